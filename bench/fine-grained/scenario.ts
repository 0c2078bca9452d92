/**
 * Scenario `fine-grained`: small tasks at the machine's limit. On T = 2 threads, five workloads
 * (no-op, 5 µs, 20 µs, 100 µs, 1 ms of real CPU work) through four strategies side by side: raw
 * Piscina one task per message (the peer), sluice `batch: false`, sluice `batch: 'auto'` (the
 * default) and a hand-written chunked baseline (fixed chunks of 64, one Piscina task each), each
 * against the floor N·C/T; then the skewed fine-grained tail (100k tasks of 20 µs, 6 of 50 ms at
 * seeded random positions), sluice 'auto' vs chunked-64 against the bound max(Σd/T, max d).
 *
 * Method. One process. The task's work is a busy loop of a fixed number of iterations
 * (bench/workers/fine-grained.ts `spin`; the no-op is `spin(0)`), calibrated once on the worker
 * threads, all T at once (median of ~5 ms bursts), so a "20 µs" task is the same CPU work in every
 * strategy and takes 20 µs of a thread when every thread is busy; it is not a clock spin. Each
 * strategy is built once (the raw pool is shared by raw and chunked, which never run at once);
 * per workload (longest tasks first) every strategy is warmed up with a quarter of a timed run
 * (which also brings 'auto' from the previous workload's B to this one's), then `runs` rounds,
 * the order of strategies rotating per round. The unbatched strategies (raw, batch: false) run
 * fewer tasks than the batched ones (each ~50-130 µs a task, so N of theirs is sized for ~1 s
 * too): µs per task and tasks/s do not depend on N once a run is long. Timed: wall on the main thread from the
 * first pull to the last answer; the process's CPU clock; the main thread's event-loop
 * utilisation. Ratios are paired within a round; medians over rounds.
 */
import { fixed } from '../harness/format.js';
import { rotate } from '../harness/stats.js';
import type { Scenario } from '../harness/types.js';
import { lowerBound, sequence, type SequenceSpec } from '../tail/sequence.js';
import { burn } from '../workers/fine-grained.js';
import { report, type Config, type Sample, type Workload } from './report.js';
import {
  calibrate,
  chunkedStrategy,
  fineGrainedPool,
  rawStrategy,
  sluiceStrategy,
  type FgRun,
  type Input,
  type Strategy,
} from './strategies.js';

const THREADS = 2;
const SEED = 0xf1e9;
const CALIBRATION_BURSTS = 40;
/** Warm-up: this share of a timed run, per strategy and workload. */
const WARM = 0.25;

/** N sized for runs of >= ~1 s on 2 vCPUs: unbatched ~50-130 µs a task; batched near C/T. */
const FULL: readonly Workload[] = [
  { name: 'noop', label: 'no-op', us: 0, unbatched: 20_000, batched: 1_000_000 },
  { name: '5us', label: '5 µs', us: 5, unbatched: 20_000, batched: 500_000 },
  { name: '20us', label: '20 µs', us: 20, unbatched: 16_000, batched: 120_000 },
  { name: '100us', label: '100 µs', us: 100, unbatched: 8_000, batched: 24_000 },
  { name: '1ms', label: '1 ms', us: 1000, unbatched: 2_400, batched: 2_400 },
];
const QUICK_DIVISOR = 50;
const TAIL_FULL: SequenceSpec = { tasks: 100_000, long: 6, shortMs: 0.02, longMs: 50 };
const TAIL_QUICK: SequenceSpec = { tasks: 2_000, long: 2, shortMs: 0.02, longMs: 50 };

/** A constant-work input of n tasks, read lazily. */
function constantInput(n: number, iters: number, answer: number): Input {
  return { n, at: () => iters, expect: () => answer };
}

export const scenario: Scenario = async (options) => {
  const runs = Math.max(1, options.runs);
  const workloads = options.quick
    ? FULL.map((w) => ({ ...w, unbatched: w.unbatched / QUICK_DIVISOR, batched: w.batched / QUICK_DIVISOR }))
    : FULL;
  const tail = options.quick ? TAIL_QUICK : TAIL_FULL;
  const pool = fineGrainedPool(THREADS);
  const [raw, off, auto, chunked] = [
    rawStrategy(pool, THREADS),
    sluiceStrategy(THREADS, false),
    sluiceStrategy(THREADS, 'auto'),
    chunkedStrategy(pool, THREADS),
  ];
  const strategies: Strategy[] = [raw, off, auto, chunked];
  const samples: Sample[] = [];
  let rate = Number.NaN;
  const log = (prefix: string, name: string, r: FgRun) =>
    options.log(
      `fine-grained ${prefix} ${name}: ${fixed((r.wallMs / r.n) * 1000, 2)} µs/task, ${r.completed}/${r.n} done` +
        (r.stage?.batch ? `, B ${r.stage.batch.size} (peak ${r.stage.batch.peak}, ${r.stage.batch.batches} batches)` : ''),
    );
  try {
    rate = await calibrate(pool, THREADS, CALIBRATION_BURSTS);
    const toIters = (us: number) => Math.round((us * rate) / 1000);
    options.log(
      `fine-grained: ${rate.toFixed(0)} loop iterations per ms on ${THREADS} busy threads; ` +
        `${workloads.length} workloads + skewed tail, ${runs} round(s)`,
    );

    // Longest tasks first: 'auto' then only grows B from one workload to the next, which its warm-up settles fastest.
    for (const w of [...workloads].reverse()) {
      const iters = toIters(w.us);
      const answer = burn(iters);
      const inputOf = (s: Strategy, scale: number) =>
        constantInput(Math.round((s.name === 'raw' || s.name === 'off' ? w.unbatched : w.batched) * scale), iters, answer);
      // The warm-up also moves 'auto' off the previous workload's B: its estimates are medians of its last 16 batches.
      for (const s of strategies) await s.run(inputOf(s, WARM));
      for (let round = 1; round <= runs; round++) {
        for (const [k, s] of rotate(strategies, round - 1).entries()) {
          const r = await s.run(inputOf(s, 1));
          samples.push({ ...r, round, workload: w.name, strategy: s.name, order: k });
          log(`[round ${round}] ${w.name}`, s.name, r);
        }
      }
    }

    // The skewed tail: auto vs chunked-64 on the same seeded sequence per round.
    const [shortIters, longIters] = [toIters(tail.shortMs * 1000), toIters(tail.longMs * 1000)];
    const answers = new Map([
      [shortIters, burn(shortIters)],
      [longIters, burn(longIters)],
    ]);
    const pair = [auto, chunked];
    const warm = constantInput(Math.round(tail.tasks / 10), shortIters, answers.get(shortIters)!);
    for (const s of pair) await s.run(warm);
    for (let round = 1; round <= runs; round++) {
      const seed = SEED + round;
      const ms = sequence(tail, seed);
      const iters = ms.map((d) => (d === tail.longMs ? longIters : shortIters));
      const input: Input = { n: iters.length, at: (i) => iters[i]!, expect: (i) => answers.get(iters[i]!)! };
      const boundMs = lowerBound(ms, THREADS);
      for (const [k, s] of rotate(pair, round - 1).entries()) {
        const r = await s.run(input);
        samples.push({ ...r, round, workload: 'tail', strategy: s.name, order: k, seed, boundMs });
        options.log(
          `fine-grained [round ${round}] tail ${s.name}: ${fixed(r.wallMs, 0)} ms (${fixed(r.wallMs / boundMs, 3)}× bound ` +
            `${fixed(boundMs, 0)} ms), ${r.completed}/${r.n} done`,
        );
      }
    }
  } finally {
    await Promise.all([off.close(), auto.close()]);
    await pool.destroy();
  }

  const config: Config = {
    threads: THREADS,
    runs,
    quick: options.quick,
    itersPerMs: rate,
    calibrationBursts: CALIBRATION_BURSTS,
    warmShare: WARM,
    workloads,
    tail: { ...tail, seedBase: SEED },
    node: process.version,
  };
  return report(config, samples);
};
