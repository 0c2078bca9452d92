/**
 * The fine-grained scenario's medians, checks (structural: every task answered exactly once, B and
 * the running tasks within their bounds; timing targets: × floor, × raw, × batch: false, × the
 * tail's bound) and the markdown and chart. Ratios are paired within a round, then their median
 * is taken.
 */
import type { BatchStats } from 'sluice';
import { fixed, int } from '../harness/format.js';
import { medianOrNaN as median } from '../harness/stats.js';
import type { Check, ScenarioReport } from '../harness/types.js';
import { CHUNK, type FgRun, type StrategyName } from './strategies.js';

export interface Workload {
  readonly name: string;
  readonly label: string;
  /** Nominal CPU per task (µs); 0 is the no-op. */
  readonly us: number;
  /** Tasks per run of the unbatched strategies (raw, batch: false) and of the batched ones. */
  readonly unbatched: number;
  readonly batched: number;
}

export interface Sample extends FgRun {
  readonly round: number;
  readonly workload: string;
  readonly strategy: StrategyName;
  readonly order: number;
  readonly seed?: number;
  readonly boundMs?: number;
}

export interface Config {
  readonly threads: number;
  readonly runs: number;
  readonly quick: boolean;
  readonly itersPerMs: number;
  readonly calibrationBursts: number;
  readonly warmShare: number;
  readonly workloads: readonly Workload[];
  readonly tail: {
    readonly tasks: number;
    readonly long: number;
    readonly shortMs: number;
    readonly longMs: number;
    readonly seedBase: number;
  };
  readonly node: string;
}

/** 'auto' caps B here (src/stages/batch-size.ts AUTO_BATCH.max). */
const AUTO_CAP = 256;
const NAMES: readonly StrategyName[] = ['raw', 'off', 'auto', 'chunked'];
const LABELS: Record<StrategyName, string> = {
  raw: 'raw Piscina',
  off: 'sluice batch: false',
  auto: "sluice 'auto'",
  chunked: `chunked-${CHUNK}`,
};

const usPerTask = (s: FgRun) => (s.wallMs / s.n) * 1000;

/** Per round, f(a, b) of the two strategies' samples of that round. */
function paired(xs: readonly Sample[], a: StrategyName, b: StrategyName, f: (a: Sample, b: Sample) => number): number[] {
  return xs.flatMap((x) => {
    if (x.strategy !== a) return [];
    const y = xs.find((s) => s.strategy === b && s.round === x.round);
    return y ? [f(x, y)] : [];
  });
}

/** `threads`: for the share of the threads' time spent in tasks, N × the measured task time ÷ (T × wall). */
function batchSummary(xs: readonly Sample[], threads: number) {
  const b = xs.map((s) => s.stage?.batch).filter((x): x is BatchStats => x !== undefined);
  return {
    size: median(b.map((x) => x.size)),
    peak: b.length > 0 ? Math.max(...b.map((x) => x.peak)) : Number.NaN,
    batches: median(b.map((x) => x.batches)),
    tasksPerBatch: median(xs.flatMap((s) => (s.stage?.batch ? [s.n / s.stage.batch.batches] : []))),
    taskMs: median(b.map((x) => x.taskMs)),
    handoffMs: median(b.map((x) => x.handoffMs)),
    // batch: false measures no task time (taskMs stays 0): no figure then.
    threadsBusy: median(
      xs.flatMap((s) => (s.stage?.batch && s.stage.batch.taskMs > 0 ? [(s.n * s.stage.batch.taskMs) / (threads * s.wallMs)] : [])),
    ),
    peakRunning: Math.max(...xs.map((s) => s.stage?.peakRunning ?? Number.NaN)),
    statsUtilization: median(xs.map((s) => s.stage?.mainThread.utilization ?? Number.NaN)),
    elu: median(xs.map((s) => s.elu)),
  };
}

function rowOf(w: Workload, samples: readonly Sample[], threads: number) {
  const xs = samples.filter((s) => s.workload === w.name);
  const floorUs = w.us / threads;
  const cells = Object.fromEntries(
    NAMES.map((name) => {
      const of = xs.filter((s) => s.strategy === name);
      const us = median(of.map(usPerTask));
      return [
        name,
        {
          n: of[0]?.n ?? 0,
          us,
          tasksPerSec: 1e6 / us,
          overFloor: w.us > 0 ? median(of.map((s) => usPerTask(s) / floorUs)) : Number.NaN,
          cpuUs: median(of.map((s) => (s.cpuMs / s.n) * 1000)),
          elu: median(of.map((s) => s.elu)),
        },
      ];
    }),
  ) as Record<StrategyName, { n: number; us: number; tasksPerSec: number; overFloor: number; cpuUs: number; elu: number }>;
  const autoOverRawRounds = paired(xs, 'auto', 'raw', (a, r) => usPerTask(r) / usPerTask(a));
  const autoOverOffRounds = paired(xs, 'auto', 'off', (a, o) => usPerTask(a) / usPerTask(o));
  return {
    workload: w.name,
    label: w.label,
    us: w.us,
    floorUs,
    cells,
    autoOverRaw: median(autoOverRawRounds),
    autoOverRawRounds,
    autoOverOff: median(autoOverOffRounds),
    autoOverOffRounds,
    auto: batchSummary(
      xs.filter((s) => s.strategy === 'auto'),
      threads,
    ),
    off: batchSummary(
      xs.filter((s) => s.strategy === 'off'),
      threads,
    ),
  };
}

export function report(config: Config, samples: readonly Sample[]): ScenarioReport {
  const T = config.threads;
  const rows = config.workloads.map((w) => rowOf(w, samples, T));
  const tailOf = (name: StrategyName) => samples.filter((s) => s.workload === 'tail' && s.strategy === name);
  const tailSamples = samples.filter((s) => s.workload === 'tail');
  const overBound = (s: Sample) => s.wallMs / (s.boundMs ?? Number.NaN);
  const tail = (['auto', 'chunked'] as const).map((name) => ({
    strategy: name,
    label: LABELS[name],
    makespanMs: median(tailOf(name).map((s) => s.wallMs)),
    overBound: median(tailOf(name).map(overBound)),
    rounds: tailOf(name).map(overBound),
    elu: median(tailOf(name).map((s) => s.elu)),
  }));
  const tailBoundMs = median(tailOf('auto').map((s) => s.boundMs ?? Number.NaN));
  const chunkedOverAutoRounds = paired(tailSamples, 'chunked', 'auto', (c, a) => c.wallMs / a.wallMs);
  const chunkedOverAuto = median(chunkedOverAutoRounds);
  const tailAuto = batchSummary(tailOf('auto'), T);
  const row = (name: string) => rows.find((r) => r.workload === name);
  const { tail: t } = config;
  const autoRuns = samples.filter((s) => s.strategy === 'auto');
  const offRuns = samples.filter((s) => s.strategy === 'off');
  const broken = samples.filter((s) => s.completed !== s.n || s.failed + s.wrong + s.missing + s.doubled > 0);
  const byWorkload = (xs: readonly Sample[], f: (s: Sample) => string) =>
    [...new Set(xs.map((s) => s.workload))]
      .map(
        (w) =>
          `${w}: ${xs
            .filter((s) => s.workload === w)
            .map(f)
            .join('/')}`,
      )
      .join(', ');
  const autoOk = (s: Sample) => {
    const b = s.stage?.batch;
    return b !== undefined && b.peak >= 1 && b.peak <= AUTO_CAP && (s.stage?.peakRunning ?? Infinity) <= (T + 1) * AUTO_CAP;
  };
  const withinPeak = (s: Sample) => (s.stage?.batch?.peakOnThreads ?? Infinity) <= T * (s.stage?.batch?.peak ?? 0);
  const offOk = (s: Sample) => s.stage?.batch?.peak === 1 && (s.stage?.peakRunning ?? Infinity) <= T;
  const peakDetail = (s: Sample) => `B peak ${s.stage?.batch?.peak ?? 'none'}, running ${s.stage?.peakRunning ?? 'n/a'}`;
  const target = (claim: string, pass: boolean, detail: string): Check => ({ claim, pass, detail, structural: false });
  const rounds = (xs: readonly number[]) => `per round ${xs.map((x) => x.toFixed(2)).join(', ')}`;
  const r100 = row('100us');
  const r20 = row('20us');
  const r0 = row('noop');
  const r1ms = row('1ms');
  const checks: Check[] = [
    {
      claim: 'every task answered exactly once with its right answer, in every run of every strategy (workloads and tail)',
      pass: broken.length === 0 && samples.length > 0,
      detail:
        broken.length === 0
          ? `${samples.length} runs, ${int(samples.reduce((a, s) => a + s.n, 0))} tasks, none missing, doubled, wrong or failed`
          : broken
              .map(
                (s) =>
                  `${s.workload}/${s.strategy}#${s.round}: ${s.completed}/${s.n} (missing ${s.missing}, doubled ${s.doubled}, wrong ${s.wrong}, failed ${s.failed})`,
              )
              .join('; '),
      structural: true,
    },
    {
      claim: `sluice 'auto': batch peak <= ${AUTO_CAP} and peakRunning <= (threads + 1) × ${AUTO_CAP} (the threads' batches and one ready), in every run`,
      pass: autoRuns.length > 0 && autoRuns.every(autoOk),
      detail: byWorkload(autoRuns, peakDetail),
      structural: true,
    },
    // stats' running also counts the tasks waiting in the stage for a thread; peakOnThreads only those in messages to threads.
    {
      claim: "sluice 'auto': tasks in messages to threads at once (batch.peakOnThreads) <= threads × the largest batch sent, in every run",
      pass: autoRuns.length > 0 && autoRuns.every(withinPeak),
      detail: byWorkload(
        autoRuns,
        (s) => `${s.stage?.batch?.peakOnThreads ?? 'n/a'}${withinPeak(s) ? '<=' : '>'}${T}×${s.stage?.batch?.peak}`,
      ),
      structural: true,
    },
    {
      claim: `sluice batch: false: batch peak = 1 and peakRunning <= ${T}, in every run`,
      pass: offRuns.length > 0 && offRuns.every(offOk),
      detail: byWorkload(offRuns, peakDetail),
      structural: true,
    },
    target(
      "100 µs tasks: sluice 'auto' within 1.15× of the floor N·C/T",
      (r100?.cells.auto.overFloor ?? Infinity) <= 1.15,
      `${fixed(r100?.cells.auto.overFloor, 3)}× (${fixed(r100?.cells.auto.us, 2)} vs ${fixed(r100?.floorUs, 1)} µs/task); raw ${fixed(r100?.cells.raw.overFloor, 2)}×, chunked ${fixed(r100?.cells.chunked.overFloor, 3)}×`,
    ),
    target(
      "20 µs tasks: sluice 'auto' within 1.3× of the floor",
      (r20?.cells.auto.overFloor ?? Infinity) <= 1.3,
      `${fixed(r20?.cells.auto.overFloor, 3)}× (${fixed(r20?.cells.auto.us, 2)} vs ${fixed(r20?.floorUs, 1)} µs/task); raw ${fixed(r20?.cells.raw.overFloor, 2)}×, chunked ${fixed(r20?.cells.chunked.overFloor, 3)}×`,
    ),
    target(
      "no-op: sluice 'auto' >= 10× raw Piscina's tasks/s",
      (r0?.autoOverRaw ?? 0) >= 10,
      `${fixed(r0?.autoOverRaw, 1)}× (${int(r0?.cells.auto.tasksPerSec ?? 0)} vs ${int(r0?.cells.raw.tasksPerSec ?? 0)} tasks/s; ${rounds(r0?.autoOverRawRounds ?? [])})`,
    ),
    target(
      "1 ms tasks: sluice 'auto' no slower than batch: false beyond noise (within 1.05×)",
      (r1ms?.autoOverOff ?? Infinity) <= 1.05,
      `${fixed(r1ms?.autoOverOff, 3)}× (${fixed(r1ms?.cells.auto.us, 1)} vs ${fixed(r1ms?.cells.off.us, 1)} µs/task; ${rounds(r1ms?.autoOverOffRounds ?? [])}); auto B now ${fixed(r1ms?.auto.size, 0)}, peak ${r1ms?.auto.peak}`,
    ),
    target(
      "skewed tail: sluice 'auto' within 1.15× of its bound max(Σd/T, max d)",
      tail[0]!.overBound <= 1.15,
      `${fixed(tail[0]!.overBound, 3)}× (${fixed(tail[0]!.makespanMs, 0)} vs ${fixed(tailBoundMs, 0)} ms; ${rounds(tail[0]!.rounds)}); chunked-${CHUNK} ${fixed(tail[1]!.overBound, 3)}×`,
    ),
    target(
      `skewed tail: sluice 'auto' faster than chunked-${CHUNK}`,
      chunkedOverAuto > 1,
      `chunked ÷ auto makespan ${fixed(chunkedOverAuto, 3)}× (${rounds(chunkedOverAutoRounds)})`,
    ),
  ];
  const cell = (c: { us: number; overFloor: number }, digits: number) =>
    Number.isNaN(c.overFloor) ? fixed(c.us, digits) : `${fixed(c.us, digits)} (${fixed(c.overFloor, 2)}×)`;
  const digits = (us: number) => (us >= 100 ? 1 : 2);
  const pct = (x: number) => (Number.isFinite(x) ? `${fixed(x * 100, 0)}%` : 'n/a');
  const loop = (us: number) => Math.round((us * config.itersPerMs) / 1000);
  const markdown = [
    `T = ${T} threads, ${config.runs} round(s), medians; ratios paired within a round. Busy loop: ${fixed(config.itersPerMs, 0)} iterations/ms ` +
      `on ${T} busy threads (${config.workloads
        .filter((w) => w.us > 0)
        .map((w) => `${w.label} = ${int(loop(w.us))}`)
        .join(', ')}).`,
    '',
    '**µs per task** (wall ÷ tasks; in parentheses: × the floor C/T)',
    '',
    `| workload | floor µs/task | ${NAMES.map((n) => LABELS[n]).join(' | ')} | tasks per run (unbatched / batched) |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.us > 0 ? fixed(r.floorUs, 1) : '—'} | ${NAMES.map((n) => cell(r.cells[n], digits(r.cells[n].us))).join(' | ')} | ` +
        `${int(r.cells.raw.n)} / ${int(r.cells.auto.n)} |`,
    ),
    '',
    "**Tasks per second**, sluice 'auto' ÷ raw Piscina (paired per round), and the main thread's event-loop utilisation (read by the bench)",
    '',
    `| workload | floor tasks/s | ${NAMES.map((n) => LABELS[n]).join(' | ')} | auto ÷ raw | main thread busy: ${NAMES.map((n) => n).join(' / ')} |`,
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.us > 0 ? int(1e6 / r.floorUs) : '—'} | ${NAMES.map((n) => int(r.cells[n].tasksPerSec)).join(' | ')} | ` +
        `**${fixed(r.autoOverRaw, 1)}×** | ${NAMES.map((n) => `${fixed(r.cells[n].elu * 100, 0)}%`).join(' / ')} |`,
    ),
    '',
    "**sluice's batching** (`executor.stats()` after each run: `stages[0].batch` and `mainThread`; medians, peaks: max over rounds)",
    '',
    "| workload | 'auto' B now | B peak | batches | tasks / batch | measured task ms (nominal) | hand-off ms | threads busy | peakRunning | main thread (stats) | batch: false B peak | batch: false main thread (stats) |",
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...[
      ...rows.map((r) => ({ label: r.label, us: r.us, a: r.auto, o: r.off })),
      { label: 'skewed tail', us: t.shortMs * 1000, a: tailAuto, o: undefined },
    ].map(
      ({ label, us, a, o }) =>
        `| ${label} | ${fixed(a.size, 0)} | ${fixed(a.peak, 0)} | ${int(a.batches)} | ${fixed(a.tasksPerBatch, 1)} | ${fixed(a.taskMs, 4)} (${fixed(us / 1000, 3)}) | ${fixed(a.handoffMs, 3)} | ` +
        `${o ? pct(a.threadsBusy) : '—'} | ${fixed(a.peakRunning, 0)} | ${pct(a.statsUtilization)} | ${o ? fixed(o.peak, 0) : '—'} | ${o ? pct(o.statsUtilization) : '—'} |`,
    ),
    '',
    "threads busy = N × the measured task time (`batch.taskMs`, the median of the last batches' mean) ÷ (T × wall): the share of the " +
      "threads' time spent in tasks (not shown for the skewed tail, whose median leaves out the long tasks). The rest is the hand-off " +
      "(`batch.handoffMs`: how long a batch was away beyond its thread's time on it: the post, the thread's wake-up, the reply, the " +
      "main thread's turn), during which the thread has nothing to do; 'auto' makes a batch about 20 hand-offs of work (1 to 10 ms).",
    '',
    `**Skewed fine-grained tail**: ${int(t.tasks)} tasks, ${int(t.tasks - t.long)} × ${t.shortMs * 1000} µs and ${t.long} × ${t.longMs} ms at seeded ` +
      `random positions (seed ${t.seedBase} + round), the same sequence for both strategies of a round; makespan = wall on the main thread, ` +
      'first pull to last answer.',
    '',
    '| strategy | makespan ms | × bound | main thread busy |',
    '|---|---:|---:|---:|',
    ...tail.map((r) => `| ${r.label} | ${fixed(r.makespanMs, 0)} | ${fixed(r.overBound, 3)} | ${fixed(r.elu * 100, 0)}% |`),
    `| lower bound max(Σd/T, max d) | ${fixed(tailBoundMs, 0)} | 1.000 | |`,
    '',
    `chunked-${CHUNK} ÷ sluice 'auto' makespan (paired per round, median): **${fixed(chunkedOverAuto, 3)}×**. raw Piscina is left out of ` +
      `the tail case: one task per message it is bound by the hand-off (see the 20 µs row: about ${fixed(row('20us')?.cells.raw.overFloor, 1)}× ` +
      `the floor), not by the tail, and ${int(t.tasks)} tasks would cost it several seconds a round.`,
    '',
    `raw = Piscina (min = max = ${T} threads, one task per thread) fed by ${T} lanes, each pulling the next input and awaiting ` +
      `\`limit(() => pool.run(x))\` with p-limit(${T}) (the overhead scenario's baseline). sluice = \`createExecutor\` with one stage ` +
      `\`cpu('work', worker, { threads: ${T}, batch })\`, drained with \`for await\`. chunked-${CHUNK} = the input cut into chunks of ${CHUNK}, ` +
      `each one Piscina task on the same pool whose worker loops over it, fed by ${T} lanes as threads free.`,
    '',
  ].join('\n');

  const values = rows.flatMap((r) =>
    NAMES.map((n) => ({ workload: r.label, strategy: LABELS[n], tasksPerSec: Math.round(r.cells[n].tasksPerSec) })),
  );
  const floors = rows.filter((r) => r.us > 0).map((r) => ({ workload: r.label, floor: Math.round(1e6 / r.floorUs) }));
  const order = rows.map((r) => r.label);
  const top = Math.max(...values.map((v) => v.tasksPerSec), ...floors.map((f) => f.floor));
  const bottom = Math.min(...values.map((v) => v.tasksPerSec));
  // Whole decades, so the log axis reads 1k, 10k, 100k, 1M.
  const domain = [10 ** Math.floor(Math.log10(bottom > 0 ? bottom : 1)), 10 ** Math.ceil(Math.log10(top > 0 ? top : 10))];
  const chart = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 620,
    height: 300,
    title: `Tasks per second on ${T} threads by task size (median of ${config.runs}; black tick: the floor T/C; log scale)`,
    layer: [
      {
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'workload', type: 'nominal', sort: order, title: 'CPU work per task', axis: { labelAngle: 0 } },
          xOffset: { field: 'strategy', type: 'nominal', sort: NAMES.map((n) => LABELS[n]) },
          y: {
            field: 'tasksPerSec',
            type: 'quantitative',
            title: 'tasks/s',
            axis: { format: '~s' },
            stack: null,
            scale: { type: 'log', domain },
          },
          color: {
            field: 'strategy',
            type: 'nominal',
            sort: NAMES.map((n) => LABELS[n]),
            scale: { range: ['#9d9d9d', '#9ecae9', '#4c78a8', '#f58518'] },
            title: null,
            legend: { labelLimit: 220 },
          },
        },
      },
      {
        data: { values: floors },
        mark: { type: 'tick', color: 'black', thickness: 2, size: 120 },
        encoding: {
          x: { field: 'workload', type: 'nominal', sort: order },
          y: { field: 'floor', type: 'quantitative' },
        },
      },
    ],
  };

  return {
    name: 'fine-grained',
    title: 'Fine-grained tasks: batching in cpu stages',
    method:
      `One process, T = ${T} worker threads per strategy (min = max threads). Task work: a busy loop of a fixed iteration count ` +
      '(bench/workers/fine-grained.ts), calibrated once on the worker threads, all T at once (median of ' +
      `${config.calibrationBursts} ~5 ms bursts each), so a "20 µs" task is the same CPU work in every strategy and takes 20 µs of a thread ` +
      'when every thread is busy; it is not a clock spin. The floor is N·C/T (C the nominal task time), i.e. C/T µs per task. ' +
      'The no-op is `spin(0)`. Every strategy is built once (the raw pool is shared by raw and chunked, which never run at once); ' +
      `per workload (longest tasks first) each is warmed up with ${config.warmShare * 100}% of a timed run (which also brings 'auto' from the previous ` +
      `workload's B to this one's: its estimates are medians of its last 16 batches), then ${config.runs} round(s), the order of ` +
      'the four strategies rotating per round. ' +
      'The unbatched strategies (raw, batch: false) run fewer tasks per run than the batched ones, sized so every run lasts about ' +
      '1 s or more: µs per task and tasks/s do not depend on N for runs that long. Held equal: the worker module and pool options, ' +
      'the lazy input (never an array of N), the per-task check of every answer. Timed: wall on the main thread from the first pull ' +
      "to the last answer, the process's CPU clock, and the main thread's event-loop utilisation (performance.eventLoopUtilization). " +
      'Ratios (auto ÷ raw tasks/s, auto ÷ batch: false, chunked ÷ auto) are paired within a round; medians over rounds. The skewed ' +
      'tail compares sluice and chunked-64 on a new seeded sequence per round (warm-up: a tenth of it, all short), makespan = wall ' +
      '(its fixed start-up, well under a ms, is within noise of a ~1 s bound).',
    markdown,
    checks,
    charts: [{ file: 'fine-grained-throughput.svg', title: 'Tasks per second by task size and strategy', spec: chart }],
    json: {
      config,
      rows,
      tail: { boundMs: tailBoundMs, chunkedOverAuto, chunkedOverAutoRounds, strategies: tail, autoBatch: tailAuto },
      samples,
    },
  };
}
