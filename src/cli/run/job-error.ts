/**
 * Errors that end a run because the job itself is broken, not one of its tasks: a worker module
 * that fails to load or lacks its export. `sluice run` reports them once, with a hint, and exits 2
 * (bad job), as it does for a job module that fails to load.
 */
import { ErrorCodes, SluiceWorkerError } from '../../index.js';

/** The job error that ended a run, or undefined when `error` is not one. */
export function jobErrorOf(error: unknown): SluiceWorkerError | undefined {
  if (!(error instanceof SluiceWorkerError)) return undefined;
  return error.code === ErrorCodes.WORKER_LOAD || error.code === ErrorCodes.WORKER_EXPORT ? error : undefined;
}

/** The lines `sluice run` prints for a job error: what happened, then what to do. */
export function jobErrorLines(error: SluiceWorkerError): string[] {
  const hint =
    error.code === ErrorCodes.WORKER_EXPORT
      ? 'a worker module default-exports its task function (or cpu(name, file, { exportName }) names the export it has)'
      : 'the worker module must load on its own in a worker thread: check its path, its imports and its syntax';
  return [`sluice run: the job is broken: ${error.message}`, `sluice run: hint: ${hint}; fix the job and run it again`];
}
