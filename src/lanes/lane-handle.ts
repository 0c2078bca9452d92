/**
 * One lane as the main thread holds it: its worker thread, the tasks it holds (sent, not answered),
 * how many more it asked for, and what it last said of itself (stats, window).
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { SluiceLaneError } from '../errors.js';
import type { ServiceStats } from '../services/service.js';
import type { TaskRef } from '../stages/runner.js';
import type { ExecutorStats } from '../stats.js';
import { isTypeScript, typeScriptEntryExecArgv } from '../typescript.js';
import { unwireError, type FromLane, type LaneInit, type ToLane } from './wire.js';

/** A task on the main thread until its lane answers: what the pipeline run waits on. */
export interface Pending {
  readonly input: unknown;
  readonly ref: TaskRef;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Lanes that stopped while they held it. */
  stops: number;
}

export interface LaneEvents {
  message(lane: LaneHandle, message: FromLane): void;
  /** The thread exited without having closed (a crash, or `process.exit` in the job). */
  stopped(lane: LaneHandle, error: unknown): void;
}

function entryFile(): string {
  const compiled = new URL('./lane-entry.js', import.meta.url);
  return existsSync(compiled) ? compiled.href : new URL('./lane-entry.ts', import.meta.url).href;
}

export class LaneHandle {
  readonly lane: number;
  readonly #worker: Worker;
  state: 'starting' | 'ready' | 'closing' | 'closed' | 'stopped' = 'starting';
  /** Tasks asked for and not sent yet. */
  demand = 0;
  readonly held = new Map<number, Pending>();
  peakHeld = 0;
  completed = 0;
  failed = 0;
  batches = 0;
  stats: ExecutorStats | undefined;
  services: Record<string, ServiceStats> = {};
  window = 0;
  /** What the lane asks to hold ahead of its pipeline now (./lane-feed.ts). */
  ahead = 0;
  /** Add to a time on the lane's clock to get the main thread's. */
  offsetMs = 0;
  /** Settles when the lane is ready (resolves) or refused / stopped first (rejects). */
  readonly ready: Promise<void>;
  /** Settles once the thread has exited. */
  readonly exited: Promise<void>;
  #error: unknown;
  closeError: unknown;

  constructor(init: LaneInit, events: LaneEvents) {
    this.lane = init.lane;
    const entry = entryFile();
    // From source (a .ts entry, as under vitest), a CommonJS bootstrap imports the entry, as
    // Piscina's own worker script does, with tsx's hooks loaded (src/typescript.ts).
    this.#worker = isTypeScript(entry)
      ? new Worker(tsBootstrap(entry), { eval: true, workerData: init, execArgv: typeScriptEntryExecArgv() })
      : new Worker(new URL(entry), { workerData: init });
    let ready!: () => void;
    let refuse!: (error: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      ready = resolve;
      refuse = reject;
    });
    this.ready.catch(() => undefined);
    this.#worker.on('message', (message: FromLane) => {
      if (message.t === 'ready') {
        this.state = 'ready';
        this.stats = message.stats;
        this.window = message.window;
        this.ahead = message.ahead;
        this.offsetMs = message.timeOrigin - performance.timeOrigin;
        ready();
      } else if (message.t === 'refused') {
        // The lane closed what it opened; its thread would wait for messages until the close timeout.
        this.state = 'closed';
        void this.#worker.terminate();
        refuse(
          new SluiceLaneError(
            this.lane,
            `could not build the job's pipeline: ${describe(unwireError(message.error))}`,
            unwireError(message.error),
          ),
        );
      } else if (message.t === 'closed') {
        this.state = 'closed';
        if (message.error !== undefined) this.closeError = unwireError(message.error);
        void this.#worker.terminate();
      }
      events.message(this, message);
    });
    this.#worker.on('error', (error) => {
      this.#error ??= error;
    });
    this.exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        const was = this.state;
        if (was === 'closed') return resolve();
        this.state = 'stopped';
        const error = new SluiceLaneError(
          this.lane,
          `its thread stopped (exit code ${code})${this.#error !== undefined ? `: ${describe(this.#error)}` : ''}`,
          this.#error,
        );
        refuse(error);
        if (was !== 'starting') events.stopped(this, error);
        resolve();
      });
    });
  }

  post(message: ToLane): void {
    this.#worker.postMessage(message);
  }

  /** Asks the lane to finish and close; terminates it after `timeoutMs` if it has not exited. */
  async close(timeoutMs: number): Promise<void> {
    if (this.state === 'ready' || this.state === 'starting') {
      this.state = 'closing';
      this.post({ t: 'close' });
    }
    const timer = setTimeout(() => void this.#worker.terminate(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops the thread now (its held tasks are the caller's to settle). */
  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

/** A script that registers tsx's ESM hooks in the thread, then imports the TypeScript `entry`. */
function tsBootstrap(entry: string): string {
  const api = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(api)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
