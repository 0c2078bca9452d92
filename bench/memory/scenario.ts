/**
 * Scenario `memory`: peak memory vs the number of tasks N, for sluice and three baselines.
 *
 * Method: every (strategy, N, round) runs in a fresh child process (bench/memory/child.ts) that
 * warms up on its own code path, then runs N tasks: a synthetic in-process fetch (a timer of L ms,
 * then a freshly allocated, filled 256 KiB Buffer), then a light checksum of the payload on one of
 * T worker threads. The parent samples the child's VmRSS every SAMPLE_MS and kills it past
 * RSS_CAP_MIB. Counters say how many payloads were buffered (fetched, not yet on a thread).
 */
import { fileURLToPath } from 'node:url';
import { compile } from '../harness/build.js';
import { int } from '../harness/format.js';
import { rotate } from '../harness/stats.js';
import type { Scenario } from '../harness/types.js';
import { charts, checks, growth, summarize, table } from './report.js';
import { runOnce, type RunRecord } from './run.js';
import { CHECKSUM, type StrategyName, type Workload } from './strategies.js';

/**
 * The RSS at which a child is killed: a stand-in for a container's memory limit. 1 GiB is about
 * 4,000 payloads; sluice needs about a quarter of it at any N. (At 3 GiB the baselines' N = 10,000 runs
 * took 15-18 s each, thrashing the garbage collector at 2.2-2.7 GiB, and the scenario would not fit
 * its time budget.)
 */
export const RSS_CAP_MIB = 1024;
const WORKLOAD: Workload = { latencyMs: 2, sizeBytes: 256 * 1024, concurrency: 16, threads: 2 };
/** Passes of the worker's checksum over the payload (about 0.07 ms each on this machine). */
const CHECKSUM_PASSES = 1;
const WARMUP = 64;
const SAMPLE_MS = 50;
const TIMEOUT_MS = 180_000;
/** Target (reported, not failed on): sluice's peak RSS at the largest N over the smallest. */
const RSS_RATIO_TARGET = 1.2;

const FULL_NS = [1_000, 10_000, 100_000];
const QUICK_NS = [1_000, 5_000];
const FULL_STRATEGIES: readonly StrategyName[] = ['sluice', 'plimit-await', 'plimit-unbounded', 'promise-all'];
const QUICK_STRATEGIES: readonly StrategyName[] = ['sluice', 'plimit-unbounded'];
/**
 * The largest N runs one round per strategy, not one per round: sluice and plimit-await take about
 * 20-25 s a run there, and three rounds of everything would not fit the scenario's time budget.
 */
const ONCE_AT_LARGEST: readonly StrategyName[] = FULL_STRATEGIES;

/** The child entry and the worker module, compiled by the bench's build (plain ESM) or run as sources under tsx. */
const ENTRIES = { child: fileURLToPath(new URL('./child.ts', import.meta.url)), 'memory-checksum': fileURLToPath(CHECKSUM) };

export const scenario: Scenario = async (options) => {
  const ns = options.quick ? QUICK_NS : FULL_NS;
  const strategies = options.quick ? QUICK_STRATEGIES : FULL_STRATEGIES;
  const largest = ns[ns.length - 1]!;
  const rounds = Math.max(1, options.runs);
  const roundsFor = (s: StrategyName, n: number): number => (!options.quick && n === largest && ONCE_AT_LARGEST.includes(s) ? 1 : rounds);

  const records: RunRecord[] = [];
  const t0 = performance.now();
  const build = await compile(ENTRIES, 'memory', options.log);
  try {
    for (let round = 0; round < rounds; round++) {
      for (const n of ns) {
        // Rotate the order per round, so no strategy always runs first (or right after a heavy one).
        for (const strategy of rotate(strategies, round)) {
          if (round >= roundsFor(strategy, n)) continue;
          const r = await runOnce({
            strategy,
            n,
            round,
            build,
            workload: WORKLOAD,
            checksumPasses: CHECKSUM_PASSES,
            warmup: WARMUP,
            capMiB: RSS_CAP_MIB,
            sampleMs: SAMPLE_MS,
            timeoutMs: TIMEOUT_MS,
          });
          records.push(r);
          options.log(
            `memory: round ${round + 1}/${rounds} ${strategy} N=${n}: ${r.status}, peak RSS ${Math.round(r.peakRssMiB)} MiB, ` +
              `buffered ${r.peakBuffered}, ${r.completed} done, ${(r.wallMs / 1000).toFixed(1)} s${r.note ? ` (${r.note})` : ''}`,
          );
        }
      }
    }
  } finally {
    build.dispose();
  }
  const elapsedMs = performance.now() - t0;

  const cells = summarize(records, strategies, ns);
  const sluiceBound = records.find((r) => r.strategy === 'sluice' && r.bound !== undefined)?.bound;
  const onceNote =
    !options.quick && rounds > 1
      ? ` **At N = ${int(largest)} every strategy ran one round only** (sluice and plimit-await take 20-25 s a run there; three rounds would not fit the scenario's time budget), so those figures are single runs, not medians.`
      : '';
  const w = WORKLOAD;
  const method = [
    `Each (strategy, N, round) runs in a fresh child process (${build.mode === 'bundle' ? 'the child entry and worker module compiled to plain ESM by esbuild at the start of the scenario, sluice imported from dist/, so no TypeScript loader runs in the child or its threads' : 'the TypeScript sources under tsx (esbuild was not available to compile them)'}): it builds its strategy, warms it up with ${WARMUP} tasks through the same code path (threads started, worker module loaded), then runs N tasks.`,
    `A task is an id. Its **fetch is synthetic and in-process**: a timer of L = ${w.latencyMs} ms, then a freshly allocated ${w.sizeBytes / 1024} KiB Buffer, filled so its pages are really touched (no HTTP: the point is memory, and it keeps N = ${int(largest)} affordable).`,
    `Its CPU step is a light checksum over the whole payload on a worker thread (${CHECKSUM_PASSES} pass of Fletcher-style sums over its 32-bit words, well under 1 ms); the answer is one number.`,
    `Payloads are moved to the threads (transferList), never copied. Held equal: io concurrency k = ${w.concurrency}, T = ${w.threads} threads (one task per thread), the fetch, the worker module, the ids.`,
    '',
    `- **sluice**: \`io('fetch', { concurrency: ${w.concurrency} })\` → \`cpu('checksum', { threads: ${w.threads} })\`, default buffer.`,
    `- **plimit-await**: p-limit(${w.concurrency}) around the fetch *and* \`await pool.run\` (a slot is held until the payload is processed: flat, but fetches wait on the CPU).`,
    `- **plimit-unbounded**: p-limit(${w.concurrency}) around the fetch, then \`pool.run\` without waiting for a free thread: Piscina's queue takes what the fetches deliver.`,
    '- **promise-all**: every fetch at once, each followed by `pool.run`.',
    '',
    `The parent samples the child's VmRSS from /proc every ${SAMPLE_MS} ms and kills it (SIGKILL) once it passes **${int(RSS_CAP_MIB)} MiB** (the RSS cap: a stand-in for a container's memory limit, about ${int(Math.floor((RSS_CAP_MIB * 2 ** 20) / w.sizeBytes))} payloads), recording how many tasks had completed (the child prints its progress every ${SAMPLE_MS} ms).`,
    `Peak RSS is the larger of the sampled VmRSS and the child's own maxRSS (main and worker threads; includes start-up: the "RSS after warm-up" column).`,
    `**Buffered payloads** are fetched but not yet on a thread: for sluice \`stats().buffered.peak\` (its bound: non-last stage capacities + buffer bounds = ${sluiceBound ?? '?'}), for the baselines Piscina's \`queueSize\`, read after every \`pool.run\`.`,
    `**Payloads in hand** are fetched and their task not yet settled (buffered, in transit or on a thread), counted the same way in every strategy.`,
    `RSS and wall time are medians over the rounds that completed; counters are the maximum over rounds; for killed runs they are as of the last progress line (lower bounds).`,
    `Rounds: ${rounds}${options.quick ? ' (quick: N = 1,000 and 5,000, sluice and plimit-unbounded only)' : ''}; strategies run back to back, their order rotated per round.${onceNote}`,
  ].join('\n');

  const growthLines = strategies.map((s) => `- ${s}: ${growth(cells, s, ns).text}`);
  const notes = [
    '',
    'plimit-await holds at most k payloads, yet its RSS grows with N: `Promise.all(ids.map(...))` creates every',
    "task's promise and p-limit entry up front, and each stays until its task has run. sluice pulls the next id only when",
    'the fetch stage can admit it, so what it holds does not depend on N.',
  ];
  const markdown = [
    table(cells, RSS_CAP_MIB),
    '',
    `Peak RSS, largest N against smallest:`,
    '',
    ...growthLines,
    ...(strategies.includes('plimit-await') ? notes : []),
  ].join('\n');

  return {
    name: 'memory',
    title: 'Memory vs N',
    method,
    markdown,
    checks: checks(records, cells, strategies, ns, RSS_RATIO_TARGET),
    charts: charts(cells, strategies, ns, RSS_CAP_MIB, sluiceBound),
    json: {
      parameters: {
        ...WORKLOAD,
        fetch: 'synthetic, in-process: setTimeout(L) then Buffer.allocUnsafeSlow(size).fill(id & 0xff)',
        checksumPasses: CHECKSUM_PASSES,
        warmup: WARMUP,
        rssCapMiB: RSS_CAP_MIB,
        sampleMs: SAMPLE_MS,
        timeoutMs: TIMEOUT_MS,
        ns,
        strategies,
        rounds,
        roundsAt: Object.fromEntries(strategies.map((s) => [s, Object.fromEntries(ns.map((n) => [n, roundsFor(s, n)]))])),
        quick: options.quick,
        childMode: build.mode,
      },
      elapsedMs,
      sluiceBound,
      summary: cells,
      runs: records,
    },
  };
};
