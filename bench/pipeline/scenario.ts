/**
 * Scenario `pipeline`: the core workload (fetch a 256 KiB document over HTTP, then a CPU step on
 * it) in three shapes (balanced, cpu-bound, io-bound), run by five strategies side by side:
 * Promise.all, p-limit with the CPU on the main thread, p-limit then an unbounded `pool.run`,
 * p-limit around fetch + `await pool.run`, and sluice. Each is reported as a ratio to the bound
 * max(N·L/k, N·C/T), to a machine bound that counts the CPU every task costs the 2 cores, and to
 * sluice in the same round.
 *
 * Method (also in the report): held equal across strategies within a shape are the doc server
 * (its own process, one per shape for the whole scenario), the fetch helper and keep-alive agent
 * (k sockets; Promise.all gets no socket limit, being the no-limit strategy), the CPU step (one
 * worker module, SHA-256 rounds calibrated once per scenario), payloads moved to threads without a
 * copy, and the task ids. Every run is a fresh process (bench/pipeline/child.ts) that warms up on its
 * own code path before the timed N tasks; strategies run back to back within a round, their order
 * rotated per round, and ratios between strategies are paired within a round before the median.
 */
import { machineBusyMs } from '../harness/child.js';
import { startDocServers, type DocServerProcess } from '../harness/doc-server.js';
import { rotate } from '../harness/stats.js';
import type { Scenario, ScenarioReport } from '../harness/types.js';
import { calibrateMany, type Calibration } from './calibrate.js';
import { chart, checks, markdown, shapeLine } from './report.js';
import { runStrategyChild } from './run.js';
import { boundMs, QUICK_STRATEGIES, SHAPES, STRATEGIES, type StrategyName } from './shapes.js';
import { rows, type CalibratedShape, type RunRecord } from './stats.js';

/** A run whose process passes this RSS is killed and shown as failed (Promise.all can pile up payloads). */
const RSS_LIMIT_MIB = 3072;

function method(strategies: readonly StrategyName[], runs: number, quick: boolean): string {
  return [
    `Three workload shapes, each run by ${strategies.join(', ')} in the same round; ${runs} round(s)${quick ? ' (quick mode: small N, two strategies)' : ''}, medians.`,
    '',
    '- **Held equal** within a shape: the doc server (its own process, L ms latency, one per shape for the whole scenario), ' +
      'the fetch helper and its keep-alive agent with k sockets (promise-all: no socket limit, being the no-limit strategy), the CPU ' +
      'step (one worker module: SHA-256 rounds over the payload, calibrated once per scenario on the orchestrator thread by CPU ' +
      'time), payloads moved to worker threads without a copy (transferList), T threads, and the task ids.',
    '- **Strategies**: promise-all (every fetch at once, CPU on the main thread), plimit-main (p-limit(k) around fetch + CPU on ' +
      'the main thread), plimit-unbounded (p-limit(k) around the fetch, then `pool.run` on a raw Piscina pool with its unbounded ' +
      'queue), plimit-await (p-limit(k) around fetch + `await pool.run`: the five-line baseline), sluice (`io` stage, k, → `cpu` stage, T).',
    '- **Warm-up**: every run is a fresh process (`bench/pipeline/child.ts`) that first runs a few waves of warm-up tasks through its ' +
      'own code path (threads started, worker module loaded, JIT warm, sockets open); then the N tasks are timed from the first ' +
      'pull to the last outcome.',
    '- **Order and pairing**: strategies run back to back in each round, in an order rotated per round; ratios between two ' +
      'strategies are taken within a round, then the median over rounds.',
    `- **Failures**: a run that fails (task errors, crash, timeout, or RSS over ${RSS_LIMIT_MIB} MiB) is shown as failed with ` +
      'its reason and left out of the medians.',
    "- **Bounds**: the formula bound max(N·L/k, N·C/T) uses the calibrated C. On 2 cores it ignores the main thread's CPU " +
      "(HTTP parsing, copies, hand-off: about 1.3 ms a task at 256 KiB) and the loopback server's (about 0.5 ms), so the " +
      'report also gives a machine bound, max(formula bound, N × measured CPU per task ÷ 2 cores).',
    '- **Peak RSS**: `process.resourceUsage().maxRSS` of the strategy process (worker threads included), read after the run.',
  ].join('\n');
}

export const scenario: Scenario = async (options): Promise<ScenarioReport> => {
  const started = performance.now();
  const strategies = options.quick ? QUICK_STRATEGIES : STRATEGIES;
  const runs = Math.max(1, options.runs);

  // One server process per payload size (one port per shape), started before the calibration so
  // its Node start-up overlaps it; the calibration counts its thread's CPU time, not wall time.
  const sizes = [...new Set(SHAPES.map((s) => s.sizeBytes))];
  const serving = Promise.allSettled(
    sizes.map((size) =>
      startDocServers(
        SHAPES.filter((s) => s.sizeBytes === size).map((s) => s.latencyMs),
        size,
      ),
    ),
  );
  const stopServers = async () => {
    const all = await serving;
    await Promise.all(all.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
  };
  const cals = new Map<string, Calibration>();
  try {
    for (const size of sizes) {
      const group = SHAPES.filter((s) => s.sizeBytes === size);
      calibrateMany(
        group.map((s) => s.cpuMs),
        size,
      ).forEach((c, i) => {
        cals.set(group[i]!.name, c);
      });
    }
  } catch (error) {
    await stopServers();
    throw error;
  }
  const shapes: CalibratedShape[] = SHAPES.map((s) => {
    const cal = cals.get(s.name)!;
    return { ...s, rounds: cal.rounds, calibratedCpuMs: cal.taskMs, runN: options.quick ? s.quickN : s.n };
  });
  for (const s of shapes) options.log(`pipeline: ${s.name}: ${shapeLine(s)}`);
  options.log(`pipeline: calibrated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const records: RunRecord[] = [];
  const servers: DocServerProcess[] = [];
  try {
    for (const s of await serving) {
      if (s.status === 'rejected') throw s.reason;
      servers.push(s.value);
    }
    const serverOf = (shape: CalibratedShape) => {
      const i = sizes.indexOf(shape.sizeBytes);
      const group = SHAPES.filter((s) => s.sizeBytes === shape.sizeBytes);
      return { process: servers[i]!, url: servers[i]!.urls[group.findIndex((s) => s.name === shape.name)]! };
    };
    options.log(`pipeline: doc servers up at ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (let round = 1; round <= runs; round++) {
      for (const shape of shapes) {
        const { process: server, url } = serverOf(shape);
        const bound = boundMs(shape, shape.runN, shape.calibratedCpuMs);
        for (const strategy of rotate(strategies, round - 1)) {
          const before = await server.counters();
          const [busy0, t0] = [machineBusyMs(), performance.now()];
          const o = await runStrategyChild({
            args: [
              ...['--strategy', strategy, '--n', String(shape.runN), '--url', url],
              ...['--threads', String(shape.threads), '--concurrency', String(shape.concurrency), '--warmup', String(shape.warmup)],
            ],
            env: { ...process.env, SLUICE_BENCH_ROUNDS: String(shape.rounds) },
            timeoutMs: 30_000 + 10 * bound,
            rssLimitMiB: RSS_LIMIT_MIB,
          });
          const after = await server.counters();
          const [busy, window] = [machineBusyMs() - busy0, performance.now() - t0];
          const serverCpuMs = after.cpuMs - before.cpuMs;
          const others = busy - (o.result?.lifeCpuMs ?? Number.NaN) - serverCpuMs;
          records.push({
            round,
            shape: shape.name,
            strategy,
            n: shape.runN,
            ...o,
            serverCpuMs,
            serverRequests: after.requests - before.requests,
            ...(Number.isFinite(others) ? { othersCpuPct: (100 * others) / (window * 2) } : {}),
          });
          const r = o.result;
          const what = r
            ? `${r.wallMs.toFixed(0)} ms (${(r.wallMs / bound).toFixed(2)}× bound), RSS ${r.maxRssMiB.toFixed(0)} MiB, buffered ${r.peakBuffered}`
            : '';
          options.log(
            `pipeline [round ${round}/${runs}] ${shape.name} ${strategy}: ${o.status} ${what} ${o.note ?? ''} [${(window / 1000).toFixed(1)} s]`,
          );
        }
      }
    }
  } finally {
    await stopServers();
  }

  const table = rows(records, shapes, strategies);
  const elapsedMs = performance.now() - started;
  options.log(`pipeline: ${records.length} runs in ${(elapsedMs / 1000).toFixed(1)} s`);
  return {
    name: 'pipeline',
    title: 'Pipeline: fetch → CPU in three shapes, five strategies',
    method: method(strategies, runs, options.quick),
    markdown: markdown(table, shapes, runs),
    checks: checks(records, table, shapes),
    charts: [chart(table, shapes, strategies)],
    json: {
      quick: options.quick,
      runs,
      strategies,
      rssLimitMiB: RSS_LIMIT_MIB,
      elapsedMs,
      shapes,
      rows: table,
      records,
    },
  };
};
