/**
 * Runs a cpu stage in a Piscina pool. The pipeline admits a task only when the stage has room:
 * `capacity` is (threads + 1) x B when the stage's batch size B (./batch-size.ts) is above 1, and
 * a batching stage hands a free thread up to B ready tasks in one message (./cpu-batches.ts);
 * with B = 1 it is `threads`, and with B fixed at 1 each task is its own message, posted as soon
 * as it is admitted. Either way at most
 * `threads` messages run at once, so Piscina's own queue is never used as a buffer. Each thread
 * runs sluice's worker entry, which loads the user's module. A stage with `timeoutMs` runs one task
 * per message and stops the thread of a task that runs too long (Piscina replaces it), failing
 * that task alone.
 */
import { existsSync } from 'node:fs';
import { Piscina } from 'piscina';
import { StageBridge } from '../bridge/main.js';
import { messageOf, SluiceBridgeError } from '../errors.js';
import { isTypeScript, typeScriptEntryExecArgv } from '../typescript.js';
import type { EntryData, Envelope, TaskMessage } from '../wire/envelope.js';
import { collectTransferables } from '../wire/transfer.js';
import { BatchSize } from './batch-size.js';
import { crashError, inputCloneFailure, openEnvelope } from './cpu-answer.js';
import { Batches } from './cpu-batches.js';
import type { ResolvedCpuStage } from './cpu-options.js';
import type { StageRunner } from './runner.js';
import { TaskTimer } from './task-timer.js';

function entryFile(): string {
  const compiled = new URL('../worker/entry.js', import.meta.url);
  return existsSync(compiled) ? compiled.href : new URL('../worker/entry.ts', import.meta.url).href;
}

export function createCpuRunner(stage: ResolvedCpuStage): StageRunner {
  let pool: Piscina | undefined;
  const { name, threads } = stage;
  const bridge = stageBridge(stage);
  const listeners = new Set<() => void>();
  const size = new BatchSize(stage.batch, threads, () => {
    for (const listener of listeners) listener();
  });
  const batches = stage.batch === 1 ? undefined : new Batches(stage, getPool, size, bridge);

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
      minThreads: threads,
      maxThreads: threads,
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

  /** One task, one message (B fixed at 1): posted at once, timed when the stage has `timeoutMs`. */
  async function runAlone(input: unknown, ref: Parameters<StageRunner['run']>[1], runSignal: AbortSignal): Promise<unknown> {
    const transferList = stage.transfer ? collectTransferables(input) : [];
    const task = bridge?.open({ task: ref.task, index: ref.index, key: ref.key, signal: runSignal });
    const message: TaskMessage = task ? task.message(input) : { input, index: ref.index, key: ref.key };
    // Only a timed stage has a signal of its own per task: aborting it stops the task's thread.
    const timer = stage.timeoutMs > 0 ? new TaskTimer(name, stage.timeoutMs, runSignal) : undefined;
    const signal = timer?.signal ?? runSignal;
    size.sent(1);
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
      throw inputCloneFailure(name, input, error) ?? crashError(name, ref.index, error);
    } finally {
      size.returned(1);
      timer?.clear();
      // Done, thrown, crashed or aborted: deliver the task's last progress, then forget the task.
      task?.close();
    }
    return openEnvelope(stage, envelope);
  }

  return {
    name,
    kind: 'cpu',
    // A batching stage holds one batch more than its threads run (./cpu-batches.ts).
    get capacity() {
      const b = size.size;
      return b > 1 ? (threads + 1) * b : threads;
    },
    followsCapacity: batches !== undefined,
    run(input, ref, signal) {
      return batches ? batches.run(input, ref, signal) : runAlone(input, ref, signal);
    },
    onCapacityChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    startRun() {
      size.resetCounts();
    },
    batchStats: () => size.stats(),
    async close() {
      batches?.close();
      const p = pool;
      pool = undefined;
      if (p) await p.destroy();
      bridge?.detach();
    },
  };
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
