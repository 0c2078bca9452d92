/**
 * One run of the memory scenario: a fresh child process (bench/memory/child.ts) for one
 * (strategy, N), through the bench's child harness: its VmRSS sampled from /proc every `sampleMs`,
 * killed with SIGKILL once it passes the RSS cap. The record keeps what the child said last: its
 * RESULT line, or, for a killed run, its last PROGRESS line (tasks completed and peaks so far,
 * lower bounds).
 */
import { lastError, startChild } from '../harness/child.js';
import { fileUrl, type Build } from '../harness/build.js';
import type { ChildProgress, ChildResult } from './child.js';
import type { StrategyName, Workload } from './strategies.js';

export type Status = 'ok' | 'killed' | 'timeout' | 'crash' | 'errors';

export interface RunRecord {
  readonly strategy: StrategyName;
  readonly n: number;
  readonly round: number;
  readonly status: Status;
  /** max(sampled VmRSS, the child's own maxRSS), MiB; for a killed run, the sample that passed the cap. */
  readonly peakRssMiB: number;
  readonly sampledPeakRssMiB: number;
  readonly childMaxRssMiB?: number;
  /** RSS after warm-up, before the timed run, MiB. */
  readonly startRssMiB?: number;
  /** Fetched, not yet on a thread (peak). For a killed run: as of its last progress line. */
  readonly peakBuffered: number;
  /** Fetched, task not settled yet (peak). */
  readonly peakInHand: number;
  readonly completed: number;
  readonly failed: number;
  /** False when a killed child printed no progress line at all (its event loop never came back). */
  readonly progressSeen: boolean;
  /** From the first task to the last outcome (child's clock), or to the kill (parent's clock). */
  readonly wallMs: number;
  /** sluice: its bound on buffered payloads, from stats(). */
  readonly bound?: number;
  readonly stats?: Record<string, unknown>;
  readonly note?: string;
}

export interface RunOptions {
  readonly strategy: StrategyName;
  readonly n: number;
  readonly round: number;
  /** The compiled child and worker (or their sources): entries `child` and `memory-checksum`. */
  readonly build: Build;
  readonly workload: Workload;
  readonly checksumPasses: number;
  readonly warmup: number;
  readonly capMiB: number;
  readonly sampleMs: number;
  readonly timeoutMs: number;
}

export async function runOnce(o: RunOptions): Promise<RunRecord> {
  const w = o.workload;
  const args = [
    ...['--strategy', o.strategy, '--n', String(o.n), '--latency', String(w.latencyMs), '--size', String(w.sizeBytes)],
    ...['--concurrency', String(w.concurrency), '--threads', String(w.threads), '--warmup', String(o.warmup)],
    ...['--progress-ms', String(o.sampleMs), '--worker', fileUrl(o.build.file('memory-checksum'))],
  ];
  const child = startChild({
    args: [...o.build.nodeArgs('child'), ...args],
    env: { ...process.env, SLUICE_MEMORY_PASSES: String(o.checksumPasses) },
    timeoutMs: o.timeoutMs,
    rss: { limitMiB: o.capMiB, everyMs: o.sampleMs },
  });
  let startAt: number | undefined;
  let startRssMiB: number | undefined;
  let progress: ChildProgress = { completed: 0, peakBuffered: 0, peakInHand: 0 };
  let progressSeen = false;
  let result: ChildResult | undefined;
  child
    .on('START', (payload) => {
      startAt = performance.now();
      startRssMiB = (JSON.parse(payload) as { rssMiB: number }).rssMiB;
    })
    .on('PROGRESS', (payload) => {
      progress = JSON.parse(payload) as ChildProgress;
      progressSeen = true;
    })
    .on('RESULT', (payload) => (result = JSON.parse(payload) as ChildResult));
  const e = await child.exited;
  const closedAt = performance.now();
  const sampled = e.sampledPeakRssMiB;
  const base = {
    strategy: o.strategy,
    n: o.n,
    round: o.round,
    sampledPeakRssMiB: sampled,
    ...(startRssMiB !== undefined ? { startRssMiB } : {}),
  };
  if (e.killed !== undefined || result === undefined) {
    const killed = e.killed === 'rss-limit' ? 'killed' : e.killed;
    const note =
      killed === 'killed'
        ? progressSeen
          ? `killed at RSS cap (${o.capMiB} MiB) after ${progress.completed} of ${o.n} tasks completed`
          : `killed at RSS cap (${o.capMiB} MiB) before its first progress line (event loop blocked)`
        : killed === 'timeout'
          ? `killed after ${o.timeoutMs / 1000} s (timeout), ${progress.completed} of ${o.n} tasks completed`
          : lastError(e.stderr, `exit ${e.code ?? e.signal}`);
    return {
      ...base,
      status: killed ?? 'crash',
      peakRssMiB: sampled,
      ...progress,
      failed: 0,
      progressSeen,
      wallMs: startAt !== undefined ? (e.killedAt ?? closedAt) - startAt : 0,
      note,
    };
  }
  const r: ChildResult = result;
  return {
    ...base,
    status: r.failed > 0 || r.completed !== o.n ? 'errors' : 'ok',
    peakRssMiB: Math.max(sampled, r.maxRssMiB),
    childMaxRssMiB: r.maxRssMiB,
    startRssMiB: r.startRssMiB,
    peakBuffered: r.peakBuffered,
    peakInHand: r.peakInHand,
    completed: r.completed,
    failed: r.failed,
    progressSeen: true,
    wallMs: r.wallMs,
    ...(r.bound !== undefined ? { bound: r.bound } : {}),
    ...(r.stats !== undefined ? { stats: r.stats } : {}),
    ...(r.failed > 0 ? { note: `${r.failed} failed: ${r.firstError ?? '?'}` } : {}),
  };
}
