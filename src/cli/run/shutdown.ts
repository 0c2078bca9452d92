/**
 * Everything `sluice run` opens once the job has loaded, and the one way it is all closed: on
 * every exit path (a bad setting found after the load, a failed or finished run, a signal), each
 * close gets a bounded time, a close that fails or hangs is reported on stderr, and the command
 * goes on. The job's `close()` comes after the pools, the metrics server and the output, so the
 * job's own resources outlive every task that could use them.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Executor } from '../../index.js';
import type { OutcomeSink } from '../io/output.js';
import type { MetricsServer } from '../observe/metrics.js';
import { within } from './bounded.js';
import { messageOf } from '../message.js';

export interface RunResources {
  executor?: Executor;
  metrics?: MetricsServer;
  sink?: OutcomeSink;
  /** Stops the reporter's timer and draws its final state. */
  stopReporter?: () => void;
}

export interface Shutdown {
  /** Filled in as the command opens things; what is unset at close time is skipped. */
  readonly resources: RunResources;
  /**
   * Closes what is open, once (later calls return the same promise). `stuck`: the run did not stop
   * after its abort, so the executor (which waits for it) is closed without being waited for.
   */
  close(options?: { readonly stuck?: boolean }): Promise<void>;
}

export interface ShutdownOptions {
  /** The job's `close()` (idempotent). */
  readonly closeJob: () => Promise<void>;
  /** Writes a line to stderr. */
  readonly err: (line: string) => void;
  readonly timeoutMs: number;
  /** The command its notices name. @default 'run' */
  readonly command?: string;
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { closeJob, err, timeoutMs } = options;
  const command = options.command ?? 'run';
  const resources: RunResources = {};
  let closing: Promise<void> | undefined;

  async function bounded(what: string, work: () => Promise<void>): Promise<void> {
    let started: Promise<void>;
    try {
      started = work();
    } catch (error) {
      started = Promise.reject(error);
    }
    const settled = await within(started, timeoutMs);
    if (settled.status === 'failed') err(`sluice ${command}: ${what} failed: ${messageOf(settled.error)}`);
    if (settled.status === 'timeout') {
      err(`sluice ${command}: ${what} did not finish within ${timeoutMs / 1000} s; going on without it`);
      started.catch(() => undefined);
    }
  }

  async function closeAll(stuck: boolean): Promise<void> {
    const { executor, metrics, sink } = resources;
    resources.stopReporter?.();
    if (executor !== undefined) {
      if (stuck) executor.close().catch(() => undefined);
      else await bounded('closing the worker pools', () => executor.close());
    }
    if (metrics !== undefined) await bounded('closing the metrics server', () => metrics.close());
    if (sink !== undefined) await bounded('closing the output', () => sink.close());
    await bounded("the job's close()", closeJob);
    // Output a worker thread wrote just before it stopped reaches process.stdout a turn later:
    // let it arrive while stdout is still redirected (the command restores it after this).
    await nextTurn();
  }

  return {
    resources,
    close(closeOptions) {
      closing ??= closeAll(closeOptions?.stuck === true);
      return closing;
    },
  };
}
