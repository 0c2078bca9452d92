/**
 * What the pipeline scenario's strategy children share: the workload's parameters, the meter every
 * strategy feeds the same way, the tracked fetch, and the result line a child prints.
 */
import type { Agent } from 'node:http';
import { fetchBuffer } from 'sluice/demo';
import type { CpuResult } from '../workers/cpu-task.js';

export interface Workload {
  /** Base URL of the doc server (child process). */
  readonly url: string;
  /** io concurrency k. */
  readonly concurrency: number;
  /** cpu threads T. */
  readonly threads: number;
}

/** One strategy, built once per child: warm-up and the timed run both go through `run`. */
export interface Strategy {
  run(ids: readonly number[], meter: Meter): Promise<void>;
  /** Extra figures for the JSON (e.g. sluice's stats()). */
  extra?(): Record<string, unknown>;
  close(): Promise<void>;
}

export type StrategyFactory = (w: Workload) => Strategy;

/** What a strategy child prints (its `RESULT` line). */
export interface ChildResult {
  readonly strategy: string;
  readonly n: number;
  readonly wallMs: number;
  readonly ok: number;
  readonly failed: number;
  readonly firstError?: string;
  /** CPU time per task of the worker threads (ms), from their CPU clocks; absent on the main thread. */
  readonly threadCpuPerTaskMs?: number;
  /** Median wall time of the work inside the task function (CPU time plus preemption). */
  readonly taskWallMsMedian?: number;
  /** Sum of the tasks' wall times (ms): ÷ (T × wall) is how busy the threads were with tasks. */
  readonly taskWallMsSum?: number;
  /** CPU time of this process (all threads, user + sys, ms) over the timed run, and over its life. */
  readonly processCpuMs: number;
  readonly lifeCpuMs: number;
  /** CPU time of the main thread alone over the timed run (schedstat; absent off Linux). */
  readonly mainCpuMs?: number;
  readonly maxRssMiB: number;
  readonly peakBuffered: number;
  readonly peakFetching: number;
  /** Main thread event loop utilization over the timed run. */
  readonly elu: number;
  readonly extra?: Record<string, unknown>;
}

export const CPU_TASK = new URL('../workers/cpu-task.ts', import.meta.url);

/** Counters and samples of one run, fed identically by every strategy. */
export class Meter {
  ok = 0;
  failed = 0;
  firstError: string | undefined;
  /** Per task: wall time of the work (ms). */
  readonly wallMs: number[] = [];
  /** Per worker thread: its CPU clock at its first task's start and last task's end, and its tasks. */
  readonly threads = new Map<number, { first: number; last: number; tasks: number }>();
  /** Payloads fetched and not yet started on a CPU (thread or main thread). */
  buffered = 0;
  peakBuffered = 0;
  fetching = 0;
  peakFetching = 0;

  fetchStarted(): void {
    this.fetching += 1;
    if (this.fetching > this.peakFetching) this.peakFetching = this.fetching;
  }

  fetchEnded(): void {
    this.fetching -= 1;
  }

  /** Sets the current number of buffered payloads (strategies that count them by difference). */
  setBuffered(n: number): void {
    this.buffered = n;
    if (n > this.peakBuffered) this.peakBuffered = n;
  }

  done(result: unknown): void {
    this.ok += 1;
    const r = result as Partial<CpuResult> | null;
    if (typeof r?.ms === 'number') this.wallMs.push(r.ms);
    if (r?.cpuAt !== undefined && r.thread !== undefined && r.thread !== 0) {
      const t = this.threads.get(r.thread);
      if (t === undefined) this.threads.set(r.thread, { first: r.cpuAt[0], last: r.cpuAt[1], tasks: 1 });
      else {
        t.first = Math.min(t.first, r.cpuAt[0]);
        t.last = Math.max(t.last, r.cpuAt[1]);
        t.tasks += 1;
      }
    }
  }

  /** CPU time per task of the worker threads (their span ÷ their tasks), or undefined. */
  threadCpuPerTask(): number | undefined {
    let [cpu, tasks] = [0, 0];
    for (const t of this.threads.values()) [cpu, tasks] = [cpu + t.last - t.first, tasks + t.tasks];
    return tasks > 0 ? cpu / tasks : undefined;
  }

  fail(error: unknown): void {
    this.failed += 1;
    if (this.firstError === undefined) {
      const code = (error as { code?: unknown } | null)?.code;
      const message = error instanceof Error ? error.message : String(error);
      this.firstError = typeof code === 'string' ? `${code}: ${message}` : message;
    }
  }
}

/** GET `/docs/:id` with the shared helper, counted as a fetch in flight. */
export async function trackedFetch(w: Workload, id: number, agent: Agent, meter: Meter, signal?: AbortSignal): Promise<Buffer> {
  meter.fetchStarted();
  try {
    return await fetchBuffer(`${w.url}/docs/${id}`, agent, signal);
  } finally {
    meter.fetchEnded();
  }
}
