/**
 * Runs a cpu stage in a Piscina pool. The pipeline admits a task only when one of the pool's
 * threads is free (it never calls `run` more than `threads` times at once), so Piscina's own queue
 * is never used as a buffer. Each thread runs sluice's worker entry, which loads the user's module.
 */
import { existsSync } from 'node:fs';
import { Piscina } from 'piscina';
import { ErrorCodes, SluiceWorkerError } from '../errors.js';
import type { ResolvedCpuStage } from '../options.js';
import { collectTransferables } from '../transfer.js';
import { deserializeError, type EntryData, type Envelope } from '../worker/envelope.js';
import type { StageRunner } from './runner.js';
import { isTypeScript, typeScriptEntryExecArgv } from '../typescript.js';

function entryFile(): string {
  const compiled = new URL('../worker/entry.js', import.meta.url);
  return existsSync(compiled) ? compiled.href : new URL('../worker/entry.ts', import.meta.url).href;
}

export function createCpuRunner(stage: ResolvedCpuStage): StageRunner {
  let pool: Piscina | undefined;
  const { name, capacity } = stage;

  function getPool(): Piscina {
    if (pool) return pool;
    const entry = entryFile();
    const workerData: EntryData = { file: stage.file, exportName: stage.exportName, transfer: stage.transfer };
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
    return pool;
  }

  return {
    name,
    kind: 'cpu',
    capacity,
    async run(input, ctx) {
      const transferList = stage.transfer ? collectTransferables(input) : [];
      let envelope: Envelope;
      try {
        envelope = (await getPool().run(input, {
          signal: ctx.signal,
          ...(transferList.length > 0 ? { transferList: transferList as never } : {}),
        })) as Envelope;
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        throw new SluiceWorkerError(
          ErrorCodes.WORKER_CRASHED,
          name,
          `the worker thread running task #${ctx.index} stopped before it answered (${messageOf(error)}); the pool replaced it`,
          error,
        );
      }
      if (envelope.ok) return envelope.value;
      const cause = deserializeError(envelope.error);
      if (envelope.kind === 'throw') throw cause;
      if (envelope.kind === 'load') {
        throw new SluiceWorkerError(ErrorCodes.WORKER_LOAD, name, `worker module ${stage.file} failed to load: ${messageOf(cause)}`, cause);
      }
      throw new SluiceWorkerError(ErrorCodes.WORKER_EXPORT, name, messageOf(cause), cause);
    },
    async close() {
      const p = pool;
      pool = undefined;
      if (p) await p.destroy();
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

