/**
 * Scenario `lanes`: the job's pipeline in P worker threads ("lanes"), the main thread only
 * dispatching, against today's design (one lane: every io stage on the main thread). Two parts:
 *
 * - Main: `createJobExecutor('./fetch-job.ts', { lanes })` (io `fetch` behind service `docs`,
 *   a fixed limit of 16 across lanes → cpu `work`, about 0.2 ms a task on 2 threads over all lanes)
 *   at 4, 64 and 256 KiB, with 1 lane, 'auto' (= 2 on 2 cores) and 4 lanes, side by side: each
 *   (round, design) a fresh child process (./child.ts) against one doc server process (the bench's
 *   simulator, capacity far above the limit, 0 ms, its body size set per size). Timed: tasks/s, the
 *   main thread's CPU per task (/proc schedstat), each lane thread's, the server's peak in flight,
 *   the peak RSS. Medians over rounds; ratios to one lane paired within a round.
 * - Adaptive: the adaptive scenario's service (capacity 10 → 3 → 10) with the job in lanes and the
 *   service's limit vegas, against fixed limits 5 and 20 (the best of each phase in the adaptive
 *   scenario), each run a fresh simulator and a fresh child (./adaptive-run.ts), the requests in
 *   flight at the service counted at its door.
 *
 * The children, their job modules and the cpu worker are compiled to plain ESM first (the bench's
 * build, bench/harness/build.ts: sluice from dist/, no TypeScript loader in any thread); without
 * esbuild they run as TypeScript under tsx.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { autoLanes } from 'sluice';
import { compactRecords } from '../adaptive/report.js';
import { settings } from '../adaptive/scenario.js';
import type { Scenario as AdaptiveSettings } from '../adaptive/types.js';
import { compile, fileUrl, type Build } from '../harness/build.js';
import { lastError, machineBusyMs, startChild } from '../harness/child.js';
import { fixed } from '../harness/format.js';
import { startSimulator, type Simulator } from '../harness/simulator.js';
import { rotate } from '../harness/stats.js';
import type { Scenario } from '../harness/types.js';
import { adaptiveChecks, adaptiveMarkdown, adaptiveRows } from './adaptive-report.js';
import { runOnce, type LanesRunRecord } from './adaptive-run.js';
import { ceilingMarkdown, checks, label, markdown, rows, type Measured } from './report.js';
import type { CellResult, ChildDone, Design } from './types.js';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const ENTRIES = {
  'lanes-child': here('./child.ts'),
  'lanes-adaptive-child': here('./adaptive-child.ts'),
  'lanes-fetch-job': here('./fetch-job.ts'),
  'lanes-sim-job': here('./sim-job.ts'),
  'lanes-work': here('./work.ts'),
};
const SIZES = [4, 64, 256].map((k) => k * 1024);
/** --quick: the smallest and the largest. */
const QUICK_SIZES = [4, 256].map((k) => k * 1024);
const LIMIT = 16;
const CORES = 2;
/** 1 lane, 'auto' (= 2 here: then no separate 2), and 4 to show oversubscription. */
const DESIGNS: readonly Design[] = autoLanes() === 2 ? ['1', 'auto', '4'] : ['1', '2', 'auto', '4'];
const QUICK_DESIGNS: readonly Design[] = ['1', 'auto'];
const ADAPTIVE_LANES = 2;
const ADAPTIVE = 'vegas';
/** The adaptive part's runs: vegas and the fixed limits best in each phase (the adaptive scenario's), in lanes; vegas in one lane for reference. */
const ADAPTIVE_RUNS: readonly AdaptiveRun[] = [
  { label: ADAPTIVE, strategy: ADAPTIVE, lanes: ADAPTIVE_LANES },
  { label: 'fixed-5', strategy: 'fixed-5', lanes: ADAPTIVE_LANES },
  { label: 'fixed-20', strategy: 'fixed-20', lanes: ADAPTIVE_LANES },
  { label: `${ADAPTIVE}, 1 lane`, strategy: ADAPTIVE, lanes: 1 },
];

/** --quick: vegas, and fixed 20 (above every capacity: its requests in flight sit at the limit, the tightest test of exactness). */
const QUICK_ADAPTIVE: readonly string[] = [ADAPTIVE, 'fixed-20'];

const adaptiveSet = (quick: boolean): readonly AdaptiveRun[] =>
  quick ? ADAPTIVE_RUNS.filter((r) => QUICK_ADAPTIVE.includes(r.label)) : ADAPTIVE_RUNS;

interface AdaptiveRun {
  /** How the run is named in the tables. */
  readonly label: string;
  /** The service's limit (bench/adaptive/strategies.ts). */
  readonly strategy: string;
  readonly lanes: number;
}

interface Timing {
  readonly seconds: number;
  readonly warmup: number;
  readonly prewarm: number;
}

/** CPU time of a process so far (ms), from /proc/<pid>/stat; NaN when it cannot be read. */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * The CPU one event-loop wake-up costs this process's main thread now (µs): a `setTimeout(1)` loop
 * for `ms`, its CPU time (schedstat) per wake-up. A dispatcher that wakes per message pays about
 * this per message, on top of its work; a busy machine (and a VM whose cores are shared) pays more.
 */
async function wakeUpUs(ms = 300): Promise<number> {
  const cpu = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e3;
  const [c0, t0] = [cpu(), performance.now()];
  let n = 0;
  while (performance.now() - t0 < ms) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    n += 1;
  }
  return (cpu() - c0) / n;
}

async function mainPart(
  build: Build,
  sizes: readonly number[],
  designs: readonly Design[],
  runs: number,
  timing: Timing,
  log: (line: string) => void,
): Promise<Measured> {
  const wakeMs = timing.seconds < 0.5 ? 100 : 300;
  const results: CellResult[] = [];
  const done: Measured['done'][number][] = [];
  const notes: string[] = [];
  let sim: Simulator | undefined;
  let childrenCpuMs = 0;
  try {
    sim = await startSimulator({ capacity: 100_000, latencyMs: 0, queueBound: null, sampleMs: 0, bodyBytes: sizes[0]! });
    const wakeBefore = await wakeUpUs(wakeMs);
    const busy0 = machineBusyMs();
    const serverCpu0 = processCpuMs(sim.pid);
    const t0 = performance.now();
    for (let round = 1; round <= runs; round++) {
      for (const design of rotate(designs, round - 1)) {
        const child = startChild({
          args: [
            ...build.nodeArgs('lanes-child'),
            ...['--design', design, '--job', fileUrl(build.file('lanes-fetch-job')), '--url', sim.url],
            ...['--sizes', sizes.join(','), '--round', String(round)],
            ...['--seconds', String(timing.seconds), '--warmup', String(timing.warmup), '--prewarm', String(timing.prewarm)],
          ],
          env: { ...process.env, SLUICE_BENCH_LANES_WORK: fileUrl(build.file('lanes-work')), SLUICE_BENCH_LANES_LIMIT: String(LIMIT) },
          rss: { limitMiB: 4096, everyMs: 100 },
          timeoutMs: 60_000 + (timing.prewarm + timing.warmup + timing.seconds) * sizes.length * 5000,
        });
        let last: ChildDone | undefined;
        child.on('RESULT', (line) => {
          const r = JSON.parse(line) as CellResult;
          results.push(r);
          log(
            `lanes [round ${round}] ${r.sizeBytes / 1024} KiB, lanes ${label(r.design, r.lanes)}: ${fixed((r.completed / r.wallMs) * 1000, 0)} tasks/s, ` +
              `main thread ${fixed((r.mainCpuMs / r.completed) * 1000, 1)} µs/task, lanes ${r.laneCpuMs.map((x) => fixed((x / r.completed) * 1000, 0)).join('/') || '-'} µs/task, ` +
              `server peak ${r.serverPeak}/${r.limit}, RSS ${fixed(r.peakRssMiB, 0)} MiB, ${r.completed}/${r.pulled} done`,
          );
        });
        child.on('DONE', (line) => (last = JSON.parse(line) as ChildDone));
        const e = await child.exited;
        if (last !== undefined) {
          childrenCpuMs += last.cpuMs;
          done.push({ ...last, round, sampledPeakRssMiB: e.sampledPeakRssMiB });
          log(
            `lanes [round ${round}] lanes ${label(design, last.lanes)}: started in ${fixed(last.startMs, 0)} ms, closed in ${fixed(last.closeMs, 0)} ms`,
          );
        } else {
          const why = e.killed !== undefined ? `killed (${e.killed})` : lastError(e.stderr, `exit ${e.code ?? e.signal}`);
          notes.push(`round ${round}, lanes ${design}: the child ended early: ${why}`);
          log(`lanes [round ${round}] lanes ${design}: ${why}`);
        }
      }
    }
    const wallMs = performance.now() - t0;
    const wakeUs = [wakeBefore, await wakeUpUs(wakeMs)] as const;
    const serverCpuMs = processCpuMs(sim.pid) - serverCpu0;
    const othersCpuPct = ((machineBusyMs() - busy0 - childrenCpuMs - serverCpuMs) / (wallMs * CORES)) * 100;
    return {
      expected: runs * designs.length * sizes.length,
      results,
      done,
      ...(Number.isFinite(serverCpuMs) ? { serverCpuPct: (serverCpuMs / wallMs) * 100 } : {}),
      ...(Number.isFinite(othersCpuPct) ? { othersCpuPct } : {}),
      wakeUs,
      notes,
    };
  } finally {
    await sim?.close();
  }
}

async function adaptivePart(build: Build, sc: AdaptiveSettings, runs: number, quick: boolean, log: (line: string) => void) {
  const records: LanesRunRecord[] = [];
  const entry = build.nodeArgs('lanes-adaptive-child');
  const job = fileUrl(build.file('lanes-sim-job'));
  const one = async ({ label: name, strategy, lanes }: AdaptiveRun, round: number): Promise<void> => {
    const t0 = performance.now();
    const rec = { ...(await runOnce({ strategy, lanes, round, sc, entry, job })), strategy: name };
    records.push(rec);
    log(
      `lanes adaptive [round ${round}] ${name} in ${rec.child?.lanes ?? '?'} lanes (${fixed((performance.now() - t0) / 1000, 1)} s): ${rec.status}` +
        `${rec.note ? ` (${rec.note})` : ''}, in flight at the service ${rec.serverPeak ?? '?'} / limit ≤ ${rec.child?.peakLimit ?? '?'}`,
    );
  };
  for (let round = 1; round <= runs; round++) {
    const order = rotate(adaptiveSet(quick), round - 1);
    // --quick: the runs side by side (a smoke of the counters; its timings mean little).
    if (quick) await Promise.all(order.map((s) => one(s, round)));
    else for (const s of order) await one(s, round);
  }
  return records;
}

export const scenario: Scenario = async (options) => {
  const runs = Math.max(1, options.runs);
  const quick = options.quick;
  const timing: Timing = quick ? { seconds: 0.15, warmup: 0.05, prewarm: 0 } : { seconds: 1, warmup: 0.15, prewarm: 0.35 };
  const designs = quick ? QUICK_DESIGNS : DESIGNS;
  const sizes = quick ? QUICK_SIZES : SIZES;
  const sc: AdaptiveSettings = settings(quick, quick ? 400 : 2500);
  const adaptiveRuns = quick ? 1 : runs;
  options.log(
    `lanes: ${sizes.map((s) => `${s / 1024} KiB`).join(', ')}; lanes ${designs.join(', ')} (auto = ${autoLanes()}); limit ${LIMIT}; ` +
      `${timing.seconds} s timed + ${timing.warmup} s warm-up per size, ${timing.prewarm} s pre-warm per size; ${runs} round(s); ` +
      `adaptive: ${adaptiveSet(quick)
        .map((r) => `${r.strategy} in ${r.lanes} lane(s)`)
        .join(', ')}, ${sc.phaseMs / 1000} s phases, ${adaptiveRuns} round(s)`,
  );
  const build = await compile(ENTRIES, 'lanes', options.log);
  let measured: Measured;
  let records: LanesRunRecord[];
  try {
    if (quick) {
      // --quick (the CI smoke): both parts at once; their counters are what it checks, its timings mean little.
      [measured, records] = await Promise.all([
        mainPart(build, sizes, designs, runs, timing, options.log),
        adaptivePart(build, sc, adaptiveRuns, quick, options.log),
      ]);
    } else {
      measured = await mainPart(build, sizes, designs, runs, timing, options.log);
      records = await adaptivePart(build, sc, adaptiveRuns, quick, options.log);
    }
  } finally {
    build.dispose();
  }
  const table = rows(measured, sizes, designs);
  const adaptiveTable = adaptiveRows(records, sc);
  const config = {
    sizes,
    designs,
    autoLanes: autoLanes(),
    limit: LIMIT,
    ...timing,
    runs,
    quick,
    childMode: build.mode,
    adaptive: { settings: sc, runs: adaptiveSet(quick), rounds: adaptiveRuns },
    node: process.version,
  };
  return {
    name: 'lanes',
    title: 'Lanes: the pipeline in worker threads, the main thread a dispatcher',
    method:
      `The job module bench/lanes/fetch-job.ts through \`createJobExecutor(job, { lanes })\`: io \`fetch\` (global \`fetch(url, { signal })\` + ` +
      `\`arrayBuffer()\`) behind service \`docs\` with a fixed limit of ${LIMIT} (one limit across lanes: permits in shared memory) → ` +
      "cpu `work` (a fixed ~0.2 ms of arithmetic and a checksum of the body's first bytes; `threads: 2` over all lanes, so one thread per lane " +
      `with 2 or 4 lanes). Designs side by side: ${designs.map((d) => (d === '1' ? '1 lane (today: io on the main thread)' : d === 'auto' ? `'auto' (= ${autoLanes()} on ${CORES} cores)` : `${d} lanes`)).join(', ')}. ` +
      `The doc server is the bench's simulator in its own process (capacity 100,000, 0 ms, its body size set per payload size), counting ` +
      `requests in flight itself. Each (round, design) runs in a fresh child process (${build.mode === 'bundle' ? 'children, job modules and the cpu worker compiled to plain ESM by esbuild, sluice from dist/: no TypeScript loader in any thread' : 'TypeScript sources under tsx'}): ` +
      `the executor starts (its lanes load the job), a ${timing.prewarm} s pre-warm per size, then per size (order rotating per round) ` +
      `a ${timing.warmup} s warm-up run and a timed run whose input yields URLs for ${timing.seconds} s. Timed: wall; the main thread's CPU ` +
      "(`/proc/self/task/<pid>/schedstat`) and each lane thread's (its task entry; the job reports the thread that fetched each task); " +
      "the process's CPU; the server's peak in flight (reset before the run); the process's RSS high-water mark (reset through " +
      `\`/proc/self/clear_refs\`). Medians over ${runs} round(s), ratios to one lane paired within a round. ` +
      `Adaptive part: the adaptive scenario's service and phases (${sc.capacities.join(' → ')}, ${sc.phaseMs / 1000} s each), the job ` +
      `bench/lanes/sim-job.ts in ${ADAPTIVE_LANES} lanes with the service's limit vegas, fixed 5 and fixed 20 (the best fixed limits of ` +
      `the phases in the adaptive scenario), and vegas in one lane for reference; each run a fresh simulator and child` +
      `${quick ? ` (--quick: only ${QUICK_ADAPTIVE.join(' and ')}, at once, and alongside the main part)` : ''}, ${adaptiveRuns} round(s), strategies rotating per round.`,
    markdown: [markdown(table, measured, runs), '', ceilingMarkdown(table), '', adaptiveMarkdown(adaptiveTable, sc, adaptiveRuns)].join(
      '\n',
    ),
    checks: [...checks(measured, table), ...adaptiveChecks(adaptiveTable, ADAPTIVE)],
    charts: [],
    json: { config, rows: table, ...measured, adaptive: { rows: adaptiveTable, records: compactRecords(records) } },
  };
};
