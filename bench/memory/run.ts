/**
 * One run of the memory scenario: a fresh child process (bench/memory/child.ts) for one
 * (strategy, N), its VmRSS sampled from /proc every `sampleMs`, killed with SIGKILL once it passes
 * the RSS cap. The record keeps what the child said last: its RESULT line, or, for a killed run,
 * its last PROGRESS line (tasks completed and peaks so far, lower bounds).
 */
import { spawn } from 'node:child_process';
import type { ChildEntry } from './build.js';
import type { ChildProgress, ChildResult } from './child.js';
import type { StrategyName, Workload } from './strategies.js';
import { vmRssMiB } from '../suite/proc.js';

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
  readonly entry: ChildEntry;
  readonly workload: Workload;
  readonly checksumPasses: number;
  readonly warmup: number;
  readonly capMiB: number;
  readonly sampleMs: number;
  readonly timeoutMs: number;
}


export function runOnce(o: RunOptions): Promise<RunRecord> {
  const w = o.workload;
  const args = [
    ...['--strategy', o.strategy, '--n', String(o.n), '--latency', String(w.latencyMs), '--size', String(w.sizeBytes)],
    ...['--concurrency', String(w.concurrency), '--threads', String(w.threads), '--warmup', String(o.warmup)],
    ...['--progress-ms', String(o.sampleMs), '--worker', o.entry.worker],
  ];
  const child = spawn(process.execPath, [...o.entry.nodeArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLUICE_MEMORY_PASSES: String(o.checksumPasses) },
  });
  let pending = '';
  let stderr = '';
  let startAt: number | undefined;
  let startRssMiB: number | undefined;
  let progress: ChildProgress = { completed: 0, peakBuffered: 0, peakInHand: 0 };
  let progressSeen = false;
  let result: ChildResult | undefined;
  let sampled = 0;
  let killed: 'killed' | 'timeout' | undefined;
  let killedAt = 0;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const lines = (pending + d).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('PROGRESS ')) {
        progress = JSON.parse(line.slice(9)) as ChildProgress;
        progressSeen = true;
      }
      else if (line.startsWith('START ')) {
        startAt = performance.now();
        startRssMiB = (JSON.parse(line.slice(6)) as { rssMiB: number }).rssMiB;
      } else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as ChildResult;
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const kill = (why: 'killed' | 'timeout'): void => {
    if (killed !== undefined) return;
    killed = why;
    killedAt = performance.now();
    child.kill('SIGKILL');
  };
  const sampler = setInterval(() => {
    if (child.pid === undefined) return;
    const rss = vmRssMiB(child.pid);
    if (rss > sampled) sampled = rss;
    if (rss > o.capMiB) kill('killed');
  }, o.sampleMs);
  const timer = setTimeout(() => kill('timeout'), o.timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(timer);
      const base = { strategy: o.strategy, n: o.n, round: o.round, sampledPeakRssMiB: sampled, ...(startRssMiB !== undefined ? { startRssMiB } : {}) };
      if (killed !== undefined || result === undefined) {
        const last = stderr.trim().split('\n').filter((l) => /Error|error/.test(l)).pop() ?? `exit ${code ?? signal}`;
        const note =
          killed === 'killed'
            ? progressSeen
              ? `killed at RSS cap (${o.capMiB} MiB) after ${progress.completed} of ${o.n} tasks completed`
              : `killed at RSS cap (${o.capMiB} MiB) before its first progress line (event loop blocked)`
            : killed === 'timeout'
              ? `killed after ${o.timeoutMs / 1000} s (timeout), ${progress.completed} of ${o.n} tasks completed`
              : last.trim().slice(0, 200);
        resolve({
          ...base,
          status: killed ?? 'crash',
          peakRssMiB: sampled,
          ...progress,
          failed: 0,
          progressSeen,
          wallMs: startAt !== undefined ? (killed !== undefined ? killedAt : performance.now()) - startAt : 0,
          note,
        });
        return;
      }
      const r = result;
      resolve({
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
      });
    });
  });
}
