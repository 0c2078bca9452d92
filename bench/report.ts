/**
 * Turns the raw records of a bench run into medians, ratios to the bound, the targets (pass/fail)
 * and a markdown report. Ratios between two strategies are paired within a round (both ran
 * back to back against the same machine state), then the median of those ratios is taken.
 */
import type { Calibration } from './calibrate.js';
import type { ChildResult } from './common.js';

export type Status = 'ok' | 'errors' | 'timeout' | 'crash' | 'rss-limit';

export interface RunRecord {
  readonly round: number;
  readonly strategy: string;
  readonly n: number;
  readonly status: Status;
  readonly result?: ChildResult;
  readonly note?: string;
  /** Around the run: the doc server's CPU time, and the machine's busy CPU spent on other work (% of 2 cores). */
  readonly machine?: { readonly serverCpuMs?: number; readonly serverRequests?: number; readonly othersCpuPct: number };
}

export interface Config {
  readonly runs: number;
  readonly ns: readonly number[];
  readonly latencyMs: number;
  readonly sizeBytes: number;
  readonly concurrency: number;
  readonly threads: number;
  readonly noopTasks: number;
  readonly command: string;
}

export interface Row {
  readonly strategy: string;
  readonly n: number;
  readonly runs: number;
  readonly ok: number;
  readonly wallMs?: number;
  readonly tasksPerS?: number;
  readonly cpuMs?: number;
  readonly boundMs?: number;
  readonly ratio?: number;
  readonly ratioCal?: number;
  readonly rssMiB?: number;
  readonly buffered?: number;
  readonly fetching?: number;
  readonly elu?: number;
  readonly mainCpuPerTaskMs?: number;
  /** Time in the task function ÷ (T × wall). */
  readonly threadsBusy?: number;
  readonly othersCpuPct?: number;
  /** CPU time per task of the strategy process (timed run) plus the doc server (whole child life). */
  readonly cpuPerTaskMs?: number;
  /** wall ÷ (N × cpuPerTaskMs ÷ 2 cores): how close to what the machine's CPU allows. */
  readonly machineRatio?: number;
  readonly failures: readonly string[];
}

export interface Target {
  readonly name: string;
  readonly value: string;
  readonly pass: boolean | undefined;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const okResults = (records: readonly RunRecord[], strategy: string, n: number): ChildResult[] =>
  records.filter((r) => r.strategy === strategy && r.n === n && r.status === 'ok' && r.result).map((r) => r.result!);

export function rows(records: readonly RunRecord[], cfg: Config, cal: Calibration): Row[] {
  const keys = [...new Set(records.map((r) => `${r.strategy}\u0000${r.n}`))];
  return keys.map((key) => {
    const [strategy, nText] = key.split('\u0000') as [string, string];
    const n = Number(nText);
    const all = records.filter((r) => r.strategy === strategy && r.n === n);
    const ok = okResults(records, strategy, n);
    const pick = (f: (r: ChildResult) => number | undefined) => median(ok.map(f).filter((x): x is number => x !== undefined));
    const wallMs = pick((r) => r.wallMs);
    const cpuMs = pick((r) => r.threadCpuPerTaskMs);
    const pipeline = !strategy.startsWith('noop');
    const bound = (c: number) => Math.max((n * cfg.latencyMs) / cfg.concurrency, (n * c) / cfg.threads);
    const boundMs = cpuMs !== undefined ? bound(cpuMs) : undefined;
    const failures = all.filter((r) => r.status !== 'ok').map((r) => `${r.status}${r.note ? ` (${r.note})` : ''}`);
    return {
      strategy,
      n,
      runs: all.length,
      ok: ok.length,
      failures,
      ...(wallMs !== undefined ? { wallMs, tasksPerS: (n / wallMs) * 1000 } : {}),
      ...(cpuMs !== undefined ? { cpuMs } : {}),
      ...(boundMs !== undefined && wallMs !== undefined ? { boundMs, ratio: wallMs / boundMs } : {}),
      ...(wallMs !== undefined && pipeline ? { ratioCal: wallMs / bound(cal.taskMs) } : {}),
      ...opt('rssMiB', pick((r) => r.maxRssMiB)),
      ...opt('buffered', pick((r) => r.peakBuffered)),
      ...opt('fetching', pick((r) => r.peakFetching)),
      ...opt('elu', pick((r) => r.elu)),
      ...opt('mainCpuPerTaskMs', pick((r) => (r.mainCpuMs !== undefined ? r.mainCpuMs / n : undefined))),
      ...opt('threadsBusy', pick((r) => (r.taskWallMsSum !== undefined ? r.taskWallMsSum / (cfg.threads * r.wallMs) : undefined))),
      ...opt('cpuPerTaskMs', median(all.flatMap((r) => (r.status === 'ok' && r.result && r.machine?.serverCpuMs !== undefined
        ? [(r.result.processCpuMs + r.machine.serverCpuMs) / n] : [])))),
      ...opt('machineRatio', median(all.flatMap((r) => (r.status === 'ok' && r.result && r.machine?.serverCpuMs !== undefined
        ? [r.result.wallMs / (((r.result.processCpuMs + r.machine.serverCpuMs) / 2))] : [])))),
      ...opt('othersCpuPct', median(all.flatMap((r) => (r.machine && !Number.isNaN(r.machine.othersCpuPct) ? [r.machine.othersCpuPct] : [])))),
    };
  });
}

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** Median over rounds of f(a's result, b's result) where both ran ok in the same round. */
export function paired(records: readonly RunRecord[], a: string, b: string, n: number, f: (x: ChildResult, y: ChildResult) => number): number | undefined {
  const ratios: number[] = [];
  for (const ra of records) {
    if (ra.strategy !== a || ra.n !== n || ra.status !== 'ok' || !ra.result) continue;
    const rb = records.find((r) => r.strategy === b && r.n === n && r.round === ra.round && r.status === 'ok' && r.result);
    if (rb?.result) ratios.push(f(ra.result, rb.result));
  }
  return median(ratios);
}

const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(x * 100).toFixed(0)}%`);
const fmt = (x: number | undefined, digits = 2) => (x === undefined ? 'n/a' : x.toFixed(digits));

function target(name: string, value: number | undefined, shown: string, pass: (v: number) => boolean): Target {
  return { name, value: value === undefined ? 'n/a' : shown.replace('#', fmt(value)), pass: value === undefined ? undefined : pass(value) };
}

export function targets(records: readonly RunRecord[], table: readonly Row[], cfg: Config, cal: Calibration): Target[] {
  const [small, large] = [Math.min(...cfg.ns), Math.max(...cfg.ns)];
  const ifTwo = (v: number | undefined) => (large === small ? undefined : v);
  const wall = (x: ChildResult, y: ChildResult) => x.wallMs / y.wallMs;
  const row = (s: string, n: number) => table.find((r) => r.strategy === s && r.n === n);
  const rss = (s: string) => {
    const a = row(s, small)?.rssMiB;
    const b = row(s, large)?.rssMiB;
    return a !== undefined && b !== undefined && large !== small ? b / a : undefined;
  };
  const noop = paired(records, 'noop-sluice', 'noop-raw', cfg.noopTasks, (x, y) => y.wallMs / x.wallMs);
  const rawWall = row('noop-raw', cfg.noopTasks)?.wallMs;
  const sluiceWall = row('noop-sluice', cfg.noopTasks)?.wallMs;
  const overheadUs =
    rawWall !== undefined && sluiceWall !== undefined ? ((sluiceWall - rawWall) / cfg.noopTasks) * 1000 : undefined;
  return [
    target(`sluice ≥ 1.6× faster than plimit-main at N=${small}`, paired(records, 'plimit-main', 'sluice', small, wall), '#×', (v) => v >= 1.6),
    target(`sluice within 1.3× of the bound at N=${small} (C measured in run)`, row('sluice', small)?.ratio, '#× bound', (v) => v <= 1.3),
    target(`sluice within 1.3× of the bound at N=${small} (C calibrated, ${fmt(cal.taskMs)} ms CPU)`, row('sluice', small)?.ratioCal, '#× bound', (v) => v <= 1.3),
    target(`sluice no slower than plimit-await at N=${small}`, paired(records, 'sluice', 'plimit-await', small, wall), 'sluice/await wall = #', (v) => v <= 1),
    target(`sluice faster than plimit-await at N=${large}`, ifTwo(paired(records, 'sluice', 'plimit-await', large, wall)), 'sluice/await wall = #', (v) => v < 1),
    target(`sluice peak RSS at N=${large} within 1.2× of N=${small}`, rss('sluice'), '#×', (v) => v <= 1.2),
    target(`plimit-unbounded peak RSS grows with N (> 1.2×)`, rss('plimit-unbounded'), '#×', (v) => v > 1.2),
    target(`no-op tasks/s, sluice ÷ raw pool.run behind p-limit(T) (overhead ≤ 5% of C)`, noop, '#×', () =>
      overheadUs !== undefined && overheadUs <= 0.05 * cal.taskMs * 1000),
    { name: `no-op per-task overhead of sluice over raw (µs, median walls)`, value: overheadUs === undefined ? 'n/a' : `${fmt(overheadUs, 1)} µs`, pass: undefined },
  ];
}

function noise(table: readonly Row[]): number | undefined {
  return median(table.map((r) => r.othersCpuPct).filter((x): x is number => x !== undefined));
}

export function markdown(table: readonly Row[], tgts: readonly Target[], cfg: Config, cal: Calibration): string {
  const pipeline = table.filter((r) => !r.strategy.startsWith('noop'));
  const noop = table.filter((r) => r.strategy.startsWith('noop'));
  const raw = noop.find((r) => r.strategy === 'noop-raw');
  const lines = [
    `# sluice core bench`,
    '',
    `\`${cfg.command}\` — ${cfg.runs} run(s) per cell, medians; each run a fresh process. L=${cfg.latencyMs} ms, ` +
      `${cfg.sizeBytes / 1024} KiB payloads, k=${cfg.concurrency}, T=${cfg.threads}, CPU step = ${cal.rounds} × SHA-256 ` +
      `over the payload (calibrated: ${fmt(cal.taskMs)} ms of CPU).`,
    '',
    `Machine noise: median CPU used by other processes during these runs: ${fmt(noise(table), 0)}% of the 2 cores.`,
    '',
    "| strategy | N | ok runs | wall ms | tasks/s | C ms | ÷ bound | ÷ bound (C cal.) | peak RSS MiB | peak buffered | peak fetches | threads busy | main CPU ms/task | CPU ms/task | ÷ machine | others' CPU |",
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...pipeline.map(
      (r) =>
        `| ${r.strategy} | ${r.n} | ${r.ok}/${r.runs} | ${fmt(r.wallMs, 0)} | ${fmt(r.tasksPerS, 0)} | ${fmt(r.cpuMs)} | ` +
        `${fmt(r.ratio)} | ${fmt(r.ratioCal)} | ${fmt(r.rssMiB, 0)} | ${fmt(r.buffered, 0)} | ${fmt(r.fetching, 0)} | ` +
        `${pct(r.threadsBusy)} | ${fmt(r.mainCpuPerTaskMs)} | ${fmt(r.cpuPerTaskMs)} | ${fmt(r.machineRatio)} | ${r.othersCpuPct === undefined ? 'n/a' : `${r.othersCpuPct.toFixed(0)}%`} |`,
    ),
    '',
    'Notes: bound = max(N·L/k, N·C/T). **C** and **÷ bound** use C measured in the run: the worker threads\'',
    'own CPU time (/proc/thread-self/schedstat, so preemption does not count) from their first task to their',
    'last, ÷ their tasks; median over runs (n/a where the CPU step runs on the main thread). **÷ bound (C cal.)**',
    'uses the calibration\'s C (CPU time of the same function, orchestrator thread, before any child).',
    'Both bounds leave out the CPU the main thread and the loopback doc server need, which share the same',
    '2 cores (see CPU ms/task). Peak buffered = payloads fetched and',
    'not yet started on a CPU (sluice: `stats().buffered.peak`; raw Piscina: in the pool beyond T threads;',
    'main-thread CPU starts in the same microtask, so their pile-up shows as peak fetches in flight).',
    'Peak RSS = `process.resourceUsage().maxRSS` of the strategy process (worker threads included).',
    '**threads busy** = wall time in the task function ÷ (T × wall). **main CPU ms/task** = CPU of the main',
    'thread over the timed run ÷ N (HTTP, copies, hand-off, scheduling; CPU step included for strategies 1-2).',
    '**others\' CPU** = the machine\'s busy CPU during the run not spent by the strategy process or its doc',
    'server (other users), in % of 2 cores.',
    '**CPU ms/task** = (CPU of the strategy process over the timed run + CPU of the doc server) ÷ N: what',
    'each task costs the 2-core machine in all; wall ≥ N × that ÷ 2 whatever the strategy, and',
    '**÷ machine** = wall ÷ (N × CPU ms/task ÷ 2), per run, median.',
    ...pipeline.filter((r) => r.failures.length > 0).map((r) => `- ${r.strategy} N=${r.n}: ${r.failures.join('; ')}`),
    ...(noop.length === 0 ? [] : ['', '| no-op scenario | tasks | ok runs | wall ms | tasks/s | ÷ noop-raw tasks/s |', '|---|---:|---:|---:|---:|---:|']),
    ...noop.map(
      (r) =>
        `| ${r.strategy} | ${r.n} | ${r.ok}/${r.runs} | ${fmt(r.wallMs, 0)} | ${fmt(r.tasksPerS, 0)} | ` +
        `${fmt(raw?.tasksPerS !== undefined && r.tasksPerS !== undefined ? r.tasksPerS / raw.tasksPerS : undefined)} |`,
    ),
    '',
    '## Targets',
    '',
    ...tgts.map((t) => `- ${t.pass === undefined ? (t.value === 'n/a' ? 'N/A ' : 'INFO') : t.pass ? 'PASS' : 'FAIL'} ${t.name}: ${t.value}`),
    '',
  ];
  return lines.join('\n');
}
