/**
 * What a cpu task's answer means on the main thread: a thread's `Envelope` becomes the task's
 * value or its error, and a rejection from Piscina (the post failed, or the thread died) becomes
 * the task's error. Shared by lone tasks and batches (./cpu.ts, ./cpu-batches.ts).
 */
import { ErrorCodes, messageOf, SluiceDataCloneError, SluiceWorkerError } from '../errors.js';
import { commonJsHint } from '../typescript.js';
import { findUncloneable, isCloneError } from '../wire/clone-path.js';
import { deserializeError, type Envelope } from '../wire/envelope.js';
import type { ResolvedCpuStage } from './cpu-options.js';
import { StageFatal } from './runner.js';

/** The task's value, or throws its error (a `StageFatal` when the module cannot serve any task). */
export function openEnvelope(stage: ResolvedCpuStage, envelope: Envelope): unknown {
  if (envelope.ok) return envelope.value;
  const { name } = stage;
  const cause = deserializeError(envelope.error);
  if (envelope.kind === 'throw') throw cause;
  if (envelope.kind === 'clone') throw new SluiceDataCloneError(name, 'result', envelope.found, cause);
  // The module cannot serve any task: a job error, which ends the run (see StageFatal).
  if (envelope.kind === 'load') {
    throw new StageFatal(
      new SluiceWorkerError(
        ErrorCodes.WORKER_LOAD,
        name,
        `worker module ${stage.file} failed to load: ${messageOf(cause)}${commonJsHint(stage.file, cause)}`,
        cause,
      ),
    );
  }
  throw new StageFatal(new SluiceWorkerError(ErrorCodes.WORKER_EXPORT, name, messageOf(cause), cause));
}

/** The error of a task whose thread stopped before it answered (Piscina replaces the thread). */
export function crashError(stage: string, index: number, error: unknown): SluiceWorkerError {
  return new SluiceWorkerError(
    ErrorCodes.WORKER_CRASHED,
    stage,
    `the worker thread running task #${index} stopped before it answered (${messageOf(error)}); the pool replaced it`,
    error,
  );
}

/**
 * The error for a task whose input Piscina could not post to a thread, or undefined when `error`
 * is not that. Piscina rejects with the post's own error and holds no thread for the task. A
 * DOMException can only come from this thread's post (what a dying thread threw arrives copied,
 * never as one), and an input with an uncloneable member cannot have been posted: either proves it.
 */
export function inputCloneFailure(stage: string, input: unknown, error: unknown): SluiceDataCloneError | undefined {
  if (!isCloneError(error)) return undefined;
  const found = findUncloneable(input, 'input');
  if (found === undefined && !(error instanceof DOMException)) return undefined;
  return new SluiceDataCloneError(stage, 'input', found, error);
}
