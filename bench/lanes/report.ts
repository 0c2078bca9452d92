/**
 * The lanes scenario's main part: per payload size and design, medians over rounds of tasks/s,
 * the ratio to one lane (paired within a round), the main thread's CPU per task m, the lanes' CPU
 * per task and their busy shares, the server's peak in flight against the limit, and peak RSS;
 * then the ceilings 1e6 / m each design implies, and what they mean on 16 and 64 cores. Checks:
 * structural (every task completed; the server never had more in flight than the limit, in any
 * design); targets (m ≤ 25 µs with lanes at every size; lanes at least as fast as one lane).
 */
import { availableParallelism } from 'node:os';
import { autoLanes } from 'sluice';
import { fixed, int } from '../harness/format.js';
import { medianOrNaN as median } from '../harness/stats.js';
import type { Check } from '../harness/types.js';
import type { CellResult, ChildDone, Design } from './types.js';

/** What the children measured, and the figures around them. */
export interface Measured {
  /** Timed runs asked for: rounds × designs × sizes. */
  readonly expected: number;
  readonly results: readonly CellResult[];
  readonly done: readonly (ChildDone & { readonly round: number; readonly sampledPeakRssMiB: number })[];
  /** The doc server's CPU over the part, in % of one core (its counters are reset per timed run, so not per request). */
  readonly serverCpuPct?: number;
  /** The machine's busy CPU not spent by the children or the server, in % of the cores, over the part. */
  readonly othersCpuPct?: number;
  /** The CPU of one event-loop wake-up on this machine (µs), before and after the part (./scenario.ts). */
  readonly wakeUs?: readonly [number, number];
  /** Why a child ended early, per child. */
  readonly notes: readonly string[];
}

export interface Row {
  readonly sizeBytes: number;
  readonly design: Design;
  readonly lanes: number;
  readonly runs: number;
  readonly tasksPerS: number;
  /** tasks/s ÷ one lane's in the same round and size, median over rounds. */
  readonly vsOne: number;
  /** m: the main thread's CPU per task (µs), schedstat, and from stat's ticks. */
  readonly mainUs: number;
  readonly mainTickUs: number;
  /** The main thread's CPU time ÷ wall, and its event-loop utilisation (stats). */
  readonly mainOnCpu: number;
  readonly mainElu: number;
  /** The lanes' CPU per task (µs), all lanes together; each lane's CPU time ÷ wall, and its stats ELU. */
  readonly laneUs: number;
  readonly laneOnCpu: readonly number[];
  readonly laneElu: readonly number[];
  /** Tasks per message of tasks to the lanes. */
  readonly tasksPerBatch: number;
  readonly processUs: number;
  readonly limit: number;
  /** The most requests the server had in flight at once, over the rounds (its own counter). */
  readonly serverPeak: number;
  readonly peakRssMiB: number;
  readonly taskMs: number;
}

export const kib = (b: number): string => (b >= 1024 * 1024 ? `${b / 1024 / 1024} MiB` : `${b / 1024} KiB`);
export const label = (d: Design, lanes: number): string => (d === 'auto' ? `auto (= ${lanes})` : d);

export function rows(m: Measured, sizes: readonly number[], designs: readonly Design[]): Row[] {
  return sizes.flatMap((sizeBytes) =>
    designs.map((design) => {
      const rs = m.results.filter((r) => r.sizeBytes === sizeBytes && r.design === design && r.completed > 0);
      const pick = (f: (r: CellResult) => number) => median(rs.map(f));
      const perLane = (f: (r: CellResult) => readonly number[]) =>
        Array.from({ length: Math.max(0, ...rs.map((r) => f(r).length)) }, (_, i) => median(rs.map((r) => f(r)[i] ?? Number.NaN)));
      const rate = (r: CellResult) => (r.completed / r.wallMs) * 1000;
      const vsOne = rs.flatMap((r) => {
        const one = m.results.find((x) => x.round === r.round && x.sizeBytes === sizeBytes && x.design === '1' && x.completed > 0);
        return one ? [rate(r) / rate(one)] : [];
      });
      return {
        sizeBytes,
        design,
        lanes: rs[0]?.lanes ?? Number.NaN,
        runs: rs.length,
        tasksPerS: pick(rate),
        vsOne: median(vsOne),
        mainUs: pick((r) => (r.mainCpuMs / r.completed) * 1000),
        mainTickUs: pick((r) => (r.mainCpuTickMs / r.completed) * 1000),
        mainOnCpu: pick((r) => r.mainCpuMs / r.wallMs),
        mainElu: pick((r) => r.mainElu),
        laneUs: rs[0]?.laneCpuMs.length ? pick((r) => (r.laneCpuMs.reduce((a, b) => a + b, 0) / r.completed) * 1000) : Number.NaN,
        laneOnCpu: perLane((r) => r.laneCpuMs.map((ms) => ms / r.wallMs)),
        laneElu: perLane((r) => r.laneElu),
        tasksPerBatch: pick((r) => (r.batches > 0 ? r.completed / r.batches : Number.NaN)),
        processUs: pick((r) => (r.processCpuMs / r.completed) * 1000),
        limit: rs[0]?.limit ?? Number.NaN,
        serverPeak: rs.length > 0 ? Math.max(...rs.map((r) => r.serverPeak)) : Number.NaN,
        peakRssMiB: pick((r) => r.peakRssMiB),
        taskMs: pick((r) => r.taskMs ?? Number.NaN),
      };
    }),
  );
}

/** Cpu work per task of the job whose machine use the ceilings describe (ms), and the machines. */
export const JOB_CPU_MS = 1;
export const MACHINES = [16, 64] as const;

/** Tasks/s one process carries with `lanes` lanes: the dispatcher's ceiling and the lanes' together, the lower. */
function lanesCeiling(r: Row, lanes: number): number {
  return Math.min(1e6 / r.mainUs, (lanes * 1e6) / r.laneUs);
}

/** Threads a job of `JOB_CPU_MS` keeps busy at `tasksPerS`, capped at the cores left for cpu work. */
function busy(tasksPerS: number, cores: number, reserved: number): string {
  const threads = (tasksPerS * JOB_CPU_MS) / 1000;
  const room = cores - reserved;
  if (!Number.isFinite(threads)) return 'n/a';
  return threads >= room ? `${room} of ${room} (full)` : `${fixed(threads, 1)} of ${room} (${fixed((threads / room) * 100, 0)}%)`;
}

export function ceilingMarkdown(table: readonly Row[]): string {
  const sizes = [...new Set(table.map((r) => r.sizeBytes))];
  const lines = sizes.flatMap((size) => {
    const one = table.find((r) => r.sizeBytes === size && r.design === '1');
    const lanesRow = table.find((r) => r.sizeBytes === size && r.design === 'auto');
    if (!one || !lanesRow) return [];
    const cells = MACHINES.map((n) => {
      const p = autoLanes(n);
      return `${busy(1e6 / one.mainUs, n, 1)} | ${p} | ${int(lanesCeiling(lanesRow, p))} | ${busy(lanesCeiling(lanesRow, p), n, p + 1)}`;
    });
    return [
      `| ${kib(size)} | ${fixed(one.mainUs, 0)} | ${int(1e6 / one.mainUs)} | ${fixed(lanesRow.mainUs, 1)} | ${int(1e6 / lanesRow.mainUs)} | ` +
        `${fixed(lanesRow.laneUs, 0)} | ${int(1e6 / lanesRow.laneUs)} | ${cells.join(' | ')} |`,
    ];
  });
  return [
    `**Ceilings.** One main thread carries at most 1e6 / m tasks a second; a job whose tasks carry C ms of cpu work then keeps C / m × 1000 ` +
      `threads busy. With one lane, m holds the io stage, the HTTP client and the body; with lanes, the main thread only dispatches (its m), ` +
      `and each lane carries the io of its share (m_lane: a lane's CPU per task it runs, the lanes' CPU ÷ the tasks; from the 'auto' rows), so P lanes carry ` +
      `P × 1e6 / m_lane and the process min(1e6 / m, P × 1e6 / m_lane). On N cores, 'auto' runs P = max(2, ceil(N / 4)) lanes; the cores ` +
      `left for cpu threads are N − 1 (one lane: the main thread) or N − P − 1. For C = ${JOB_CPU_MS} ms (m from this machine; ` +
      'a bigger one pays about the same CPU per task):',
    '',
    '| payload | 1 lane: m µs | 1e6/m tasks/s | lanes: main m µs | 1e6/m tasks/s | m_lane µs | 1e6/m_lane per lane | ' +
      `${MACHINES.map((n) => `${n} cores, 1 lane: threads busy | ${n} cores: auto P | tasks/s | threads busy`).join(' | ')} |`,
    `|---|---:|---:|---:|---:|---:|---:|${MACHINES.map(() => '---:|---:|---:|---:').join('|')}|`,
    ...lines,
    '',
    `"threads busy": C × tasks/s of cpu work, of the cores left for it. With one lane, a ${JOB_CPU_MS} ms job fills a 16-core machine only ` +
      "when m ≤ 1000 / 15 µs; with lanes, the dispatcher's m bounds the process at 1e6 / m and each lane keeps about C / m_lane threads " +
      'busy, so lanes are added (auto: one per four cores) until the dispatcher is the bound.',
  ].join('\n');
}

const pct = (x: number): string => `${fixed(x * 100, 0)}%`;

export function markdown(table: readonly Row[], m: Measured, runs: number): string {
  return [
    `Medians of ${runs} round(s). On this machine auto = ${autoLanes()} lanes (max(2, ceil(cores / 4))), so the 'auto' row is that ` +
      `executor (\`lanes: 'auto'\`), and 4 lanes oversubscribe the 2 cores. Machine noise: CPU used by other processes during the part: ` +
      `${fixed(m.othersCpuPct, 0)}% of the cores; one event-loop wake-up (a \`setTimeout(1)\` loop) cost ${fixed(m.wakeUs?.[0], 0)} µs of CPU ` +
      `before the part and ${fixed(m.wakeUs?.[1], 0)} µs after; the doc server used ${fixed(m.serverCpuPct, 0)}% of a core over the part.`,
    '',
    '| payload | lanes | tasks/s | ÷ 1 lane | main thread µs/task (m) | 1e6/m | main on CPU | main ELU | lanes µs/task | each lane on CPU | each lane ELU (stats) | tasks per message | process µs/task | server peak in flight / limit | peak RSS MiB | rounds |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|',
    ...table.map(
      (r) =>
        `| ${kib(r.sizeBytes)} | ${label(r.design, r.lanes)} | ${fixed(r.tasksPerS, 0)} | ${fixed(r.vsOne, 2)} | **${fixed(r.mainUs, 1)}** | ` +
        `${int(1e6 / r.mainUs)} | ${pct(r.mainOnCpu)} | ${fixed(r.mainElu, 2)} | ${fixed(r.laneUs, 0)} | ${r.laneOnCpu.map(pct).join(' / ') || '–'} | ` +
        `${r.laneElu.map((x) => fixed(x, 2)).join(' / ') || '–'} | ${fixed(r.tasksPerBatch, 1)} | ${fixed(r.processUs, 0)} | ` +
        `${r.serverPeak} / ${r.limit} | ${fixed(r.peakRssMiB, 0)} | ${r.runs}/${runs} |`,
    ),
    '',
    "- **m**: the main thread's CPU time per task (schedstat; from stat's 10 ms ticks: " +
      `${table.map((r) => `${kib(r.sizeBytes)} ${r.design} ${fixed(r.mainTickUs, 0)}`).join(', ')} µs). With one lane it runs the io stage, ` +
      "the HTTP client and the body's hand-off; with lanes it reads the input, hands tasks out and takes the outcomes. **main on CPU**: its CPU ÷ wall.",
    "- **lanes µs/task**: the lane threads' CPU time per task, all lanes together (the io moved off the main thread). **each lane on CPU**: " +
      "a lane thread's CPU ÷ wall over the timed run; **ELU (stats)**: `stats().lanes.lanes[i].utilization` at the run's end, which covers " +
      "the lane's run so far: every run since the process's first (pre-warm, warm-ups and the other sizes), since a lane's run spans its executor's runs.",
    '- **tasks per message**: tasks ÷ messages of tasks to the lanes (`stats().lanes.batches`). **process**: every thread of the process ' +
      "(main, lanes, cpu pools, V8). **server peak in flight**: the doc server's own count of requests in flight, the most over the rounds; " +
      `the service's limit holds across lanes. **peak RSS**: the process's high-water mark during the timed run (its cpu step: ` +
      `${fixed(median(table.map((r) => r.taskMs)), 2)} ms a task, measured).`,
    `- **start**: \`createJobExecutor\` until every lane has built its pipeline, and the child's peak RSS over its life (sampled every 100 ms), medians: ${starts(m)}.`,
    ...(m.notes.length > 0 ? ['', ...m.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

function starts(m: Measured): string {
  const designs = [...new Set(m.done.map((d) => d.design))];
  return designs
    .map((d) => {
      const ds = m.done.filter((x) => x.design === d);
      return `${label(d, ds[0]!.lanes)} ${fixed(median(ds.map((x) => x.startMs)), 0)} ms, ${fixed(median(ds.map((x) => x.sampledPeakRssMiB)), 0)} MiB`;
    })
    .join('; ');
}

export function checks(m: Measured, table: readonly Row[]): Check[] {
  const all = m.results;
  const complete = all.length === m.expected && all.every((r) => r.pulled > 0 && r.completed === r.pulled && r.failed === 0);
  const failed = all.filter((r) => r.failed > 0);
  const lanes = table.filter((r) => r.design !== '1');
  /** The lanes designs the targets speak of: no more lanes than cores (4 lanes on 2 cores shows oversubscription). */
  const judged = lanes.filter((r) => r.lanes <= availableParallelism());
  const sizes = [...new Set(table.map((r) => r.sizeBytes))];
  return [
    {
      claim: 'every task completed, at every size in every design and round',
      pass: complete,
      detail:
        `${all.length}/${m.expected} timed runs reported, ${int(all.reduce((a, r) => a + r.completed, 0))}/${int(all.reduce((a, r) => a + r.pulled, 0))} tasks completed` +
        (failed.length > 0
          ? `; failed: ${failed.map((r) => `${kib(r.sizeBytes)} ${r.design} ${r.failed} (${r.firstError ?? '?'})`).join(', ')}`
          : '') +
        (m.notes.length > 0 ? `; ${m.notes.join('; ')}` : ''),
      structural: true,
    },
    {
      claim:
        "the server never had more requests in flight than the service's limit, in any design (its own counter; the limit is one across lanes)",
      pass: all.length > 0 && all.every((r) => r.serverPeak <= r.limit),
      detail: table.map((r) => `${kib(r.sizeBytes)} ${r.design}: ${r.serverPeak}/${r.limit}`).join(', '),
      structural: true,
    },
    {
      claim: `with lanes (${judged
        .map((r) => label(r.design, r.lanes))
        .filter((x, i, a) => a.indexOf(x) === i)
        .join(', ')}; more lanes than cores are shown, not judged), the main thread's CPU per task ≤ 25 µs at every payload size`,
      pass: judged.length > 0 && judged.every((r) => r.mainUs <= 25),
      detail: lanes.map((r) => `${kib(r.sizeBytes)} ${label(r.design, r.lanes)}: ${fixed(r.mainUs, 1)} µs`).join(', '),
      structural: false,
    },
    {
      claim: `with lanes (auto = ${autoLanes()} here), throughput at least that of one lane on every shape (ratio paired within a round)`,
      pass: judged.length > 0 && sizes.every((s) => judged.filter((r) => r.sizeBytes === s).every((r) => r.vsOne >= 1)),
      detail: lanes.map((r) => `${kib(r.sizeBytes)} ${label(r.design, r.lanes)}: ${fixed(r.vsOne, 2)}×`).join(', '),
      structural: false,
    },
  ];
}
