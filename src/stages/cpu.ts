/**
 * Runs a cpu stage in a Piscina pool. The pipeline admits a task only when one of the pool's
 * threads is free (it never calls `run` more than `threads` times at once), so Piscina's own queue
 * is never used as a buffer. Each thread runs sluice's worker entry, which loads the user's module.
 * Each task travels as a `TaskMessage` (its input, index and key); a stage with `timeoutMs` stops
 * the thread of a task that runs too long (Piscina replaces it) and fails that task alone.
 */
import { existsSync } from 'node:fs';
import { Piscina } from 'piscina';
import { StageBridge } from '../bridge/main.js';
import { ErrorCodes, messageOf, SluiceBridgeError, SluiceDataCloneError, SluiceTimeoutError, SluiceWorkerError } from '../errors.js';
import { commonJsHint, isTypeScript, typeScriptEntryExecArgv } from '../typescript.js';
import { findUncloneable, isCloneError } from '../wire/clone-path.js';
import { deserializeError, type EntryData, type Envelope, type TaskMessage } from '../wire/envelope.js';
import { collectTransferables } from '../wire/transfer.js';
import type { ResolvedCpuStage } from './cpu-options.js';
import { StageFatal, type StageRunner } from './runner.js';

function entryFile(): string {
  const compiled = new URL('../worker/entry.js', import.meta.url);
  return existsSync(compiled) ? compiled.href : new URL('../worker/entry.ts', import.meta.url).href;
}

export function createCpuRunner(stage: ResolvedCpuStage): StageRunner {
  let pool: Piscina | undefined;
  const { name, capacity } = stage;
  const bridge = stageBridge(stage);

  function getPool(): Piscina {
    if (pool) return pool;
    const entry = entryFile();
    const workerData: EntryData = {
      file: stage.file,
      exportName: stage.exportName,
      transfer: stage.transfer,
      ...(bridge ? { bridge: bridge.data } : {}),
    };
    pool = new Piscina({
      filename: entry,
      minThreads: capacity,
      maxThreads: capacity,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
      ...(isTypeScript(entry) ? { execArgv: typeScriptEntryExecArgv() } : {}),
      ...(stage.resourceLimits ? { resourceLimits: stage.resourceLimits } : {}),
    });
    // A thread that dies with no task on it is replaced by Piscina; without a listener the
    // 'error' event would take the whole process down. Tasks that a death affects fail on their own.
    pool.on('error', () => undefined);
    bridge?.attach(pool);
    return pool;
  }

  return {
    name,
    kind: 'cpu',
    capacity,
    async run(input, ref, runSignal) {
      const transferList = stage.transfer ? collectTransferables(input) : [];
      const task = bridge?.open({ task: ref.task, index: ref.index, key: ref.key, signal: runSignal });
      const message: TaskMessage = task ? task.message(input) : { input, index: ref.index, key: ref.key };
      // Only a timed stage has a signal of its own per task: aborting it stops the task's thread.
      const timer = stage.timeoutMs > 0 ? new TaskTimer(name, stage.timeoutMs, runSignal) : undefined;
      const signal = timer?.signal ?? runSignal;
      let envelope: Envelope;
      try {
        envelope = (await getPool().run(message, {
          signal,
          ...(transferList.length > 0 ? { transferList: transferList as never } : {}),
        })) as Envelope;
      } catch (error) {
        // Piscina rejected with an AbortError and is replacing the thread (node_modules/piscina's
        // runTask: aborting a running task's signal terminates its worker and starts another).
        if (timer?.fired) throw timer.error;
        if (signal.aborted) throw error;
        // Piscina's post of the task threw (no thread saw it, no capacity is held): say where.
        const notSent = inputCloneFailure(name, input, error);
        if (notSent) throw notSent;
        throw new SluiceWorkerError(
          ErrorCodes.WORKER_CRASHED,
          name,
          `the worker thread running task #${ref.index} stopped before it answered (${messageOf(error)}); the pool replaced it`,
          error,
        );
      } finally {
        timer?.clear();
        // Done, thrown, crashed or aborted: deliver the task's last progress, then forget the task.
        task?.close();
      }
      if (envelope.ok) return envelope.value;
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
    },
    async close() {
      const p = pool;
      pool = undefined;
      if (p) await p.destroy();
      bridge?.detach();
    },
  };
}

/**
 * A timed task's own signal: it follows the run's, and aborts with a `SluiceTimeoutError` naming
 * the stage once `timeoutMs` have passed. Cleared when the task settles, however it settles.
 */
class TaskTimer {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal;
  readonly #timer: NodeJS.Timeout;
  readonly #onAbort = (): void => this.#controller.abort(this.#outer.reason);
  error: SluiceTimeoutError | undefined;

  constructor(stage: string, timeoutMs: number, outer: AbortSignal) {
    this.#outer = outer;
    if (outer.aborted) this.#controller.abort(outer.reason);
    else outer.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.error = new SluiceTimeoutError({ stage, kind: 'cpu' }, timeoutMs);
      this.#controller.abort(this.error);
    }, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get fired(): boolean {
    return this.error !== undefined;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#outer.removeEventListener('abort', this.#onAbort);
  }
}

/** The bridge of a stage that declares `expose` or `onProgress`; undefined for a plain stage. */
function stageBridge(stage: ResolvedCpuStage): StageBridge | undefined {
  const { name, expose, onProgress } = stage;
  if (expose === undefined && onProgress === undefined) return undefined;
  let warned = false;
  return new StageBridge({
    stage: name,
    expose,
    onProgress,
    onListenerError(error) {
      // The listener is the job's own main-thread code: its failure says nothing about the task,
      // so the task goes on. Say so once, where the user will see it, rather than on every event.
      if (warned) return;
      warned = true;
      process.emitWarning(
        new SluiceBridgeError(
          `cpu stage "${name}": onProgress threw (${messageOf(error)}); the tasks go on, and later errors of this listener are not reported`,
          { cause: error },
        ),
      );
    },
  });
}

/**
 * The error for a task whose input Piscina could not post to a thread, or undefined when `error`
 * is not that. Piscina rejects with the post's own error and holds no thread for the task. A
 * DOMException can only come from this thread's post (what a dying thread threw arrives copied,
 * never as one), and an input with an uncloneable member cannot have been posted: either proves it.
 */
function inputCloneFailure(stage: string, input: unknown, error: unknown): SluiceDataCloneError | undefined {
  if (!isCloneError(error)) return undefined;
  const found = findUncloneable(input, 'input');
  if (found === undefined && !(error instanceof DOMException)) return undefined;
  return new SluiceDataCloneError(stage, 'input', found, error);
}
