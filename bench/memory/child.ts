/**
 * Child entry of the memory scenario: runs ONE strategy over N tasks in this fresh process.
 *
 * It builds the strategy, warms it up with `--warmup` tasks through its own code path (threads
 * started, worker module loaded, JIT warm), prints `START {rssMiB}`, runs the N tasks, printing
 * `PROGRESS {completed, peakBuffered, peakInHand}` every `--progress-ms` (so a run killed at the
 * RSS cap still says how far it got), and ends with one `RESULT {json}` line. Peak RSS of the
 * whole process (main and worker threads) is `maxRSS`, read after the run; the parent
 * (bench/memory/run.ts, through the bench's child harness) also samples VmRSS from /proc.
 *
 *   node --import tsx bench/memory/child.ts --strategy sluice --n 10000 [--worker file:///.../memory-checksum.mjs]
 */
import { parseArgs } from 'node:util';
import { emit } from '../harness/lines.js';
import { CHECKSUM, STRATEGIES, Tally, type StrategyName, type Workload } from './strategies.js';

export interface ChildProgress {
  readonly completed: number;
  readonly peakBuffered: number;
  readonly peakInHand: number;
}

export interface ChildResult extends ChildProgress {
  readonly strategy: string;
  readonly n: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly wallMs: number;
  /** The process's peak RSS over its life (getrusage maxRSS), MiB. */
  readonly maxRssMiB: number;
  /** RSS after warm-up, before the timed run, MiB. */
  readonly startRssMiB: number;
  /** sluice only: its bound on buffered payloads, from stats(), and a stats summary. */
  readonly bound?: number;
  readonly stats?: Record<string, unknown>;
}

const rssMiB = (): number => process.memoryUsage.rss() / 2 ** 20;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      strategy: { type: 'string', default: '' },
      n: { type: 'string', default: '1000' },
      latency: { type: 'string', default: '2' },
      size: { type: 'string', default: '262144' },
      concurrency: { type: 'string', default: '16' },
      threads: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '64' },
      'progress-ms': { type: 'string', default: '50' },
      worker: { type: 'string', default: CHECKSUM.href },
    },
  });
  const name = values.strategy as StrategyName;
  const factory = STRATEGIES[name];
  if (factory === undefined) throw new Error(`--strategy: expected one of ${Object.keys(STRATEGIES).join(', ')}, got "${name}"`);
  const w: Workload = {
    latencyMs: Number(values.latency),
    sizeBytes: Number(values.size),
    concurrency: Number(values.concurrency),
    threads: Number(values.threads),
  };
  const n = Number(values.n);
  const strategy = factory(w, new URL(values.worker));

  const warm = new Tally();
  await strategy.run(
    Array.from({ length: Number(values.warmup) }, (_, i) => i),
    warm,
  );
  if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.firstError}`);

  const tally = new Tally();
  const ids = Array.from({ length: n }, (_, i) => i);
  const startRssMiB = rssMiB();
  const progress = (): ChildProgress => {
    strategy.sample?.(tally);
    return { completed: tally.completed, peakBuffered: tally.peakBuffered, peakInHand: tally.peakInHand };
  };
  await emit('START', { rssMiB: startRssMiB });
  const ticker = setInterval(() => void emit('PROGRESS', progress()), Number(values['progress-ms']));
  const t0 = performance.now();
  await strategy.run(ids, tally);
  const wallMs = performance.now() - t0;
  clearInterval(ticker);
  const extra = strategy.extra?.();
  await strategy.close();
  const result: ChildResult = {
    strategy: name,
    n,
    ...progress(),
    failed: tally.failed,
    ...(tally.firstError !== undefined ? { firstError: tally.firstError } : {}),
    wallMs,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    startRssMiB,
    ...(extra !== undefined ? { bound: extra.bound, stats: extra.stats } : {}),
  };
  await emit('RESULT', result);
}

await main();
