/**
 * Medians per setting of `sluice bench`, the best one, and the table printed. A setting with a run
 * that timed out is never the best: its figures (from the runs that finished, if any) say too little.
 */
import type { ChildSummary } from './child.js';

export interface SettingResult {
  readonly label: string;
  readonly flags: readonly string[];
  readonly runs: number;
  readonly tasksPerSecond: number;
  readonly elapsedMs: number;
  readonly peakRssMiB: number;
  readonly peakBuffered: number;
  /** Failed tasks plus rejected input records, the most of any run. */
  readonly failures: number;
  /** Runs stopped at `--run-timeout` (not counted in `runs` or the medians). */
  readonly timedOut: number;
  /**
   * The main thread's utilisation over a run (0 to 1), the median of the runs that report it. Near
   * 1, the main thread is the bottleneck: more threads will not help that setting.
   */
  readonly mainThreadUtilization?: number;
}

export function summarize(label: string, flags: readonly string[], runs: readonly ChildSummary[], timedOut = 0): SettingResult {
  const main = runs.flatMap((r) => (r.mainThreadUtilization !== undefined ? [r.mainThreadUtilization] : []));
  return {
    label,
    flags,
    runs: runs.length,
    timedOut,
    tasksPerSecond: median(runs.map((r) => r.tasksPerSecond)),
    elapsedMs: median(runs.map((r) => r.elapsedMs)),
    peakRssMiB: Math.round(median(runs.map((r) => r.peakRssBytes)) / 2 ** 20),
    peakBuffered: Math.max(0, ...runs.map((r) => r.peakBuffered)),
    failures: Math.max(0, ...runs.map((r) => r.failed + r.rejectedRecords)),
    ...(main.length > 0 ? { mainThreadUtilization: Math.round(median(main) * 1000) / 1000 } : {}),
  };
}

/** The fastest setting among those whose every run finished without failures. */
export function bestOf(results: readonly SettingResult[]): SettingResult | undefined {
  let best: SettingResult | undefined;
  for (const r of results) {
    if (r.failures > 0 || r.timedOut > 0 || r.runs === 0) continue;
    if (best === undefined || r.tasksPerSecond > best.tasksPerSecond) best = r;
  }
  return best;
}

export function formatTable(results: readonly SettingResult[], best: SettingResult | undefined): string[] {
  const header = ['', 'setting', 'tasks/s', 'wall', 'peak RSS', 'peak buffered', 'failures', 'main thread'];
  const rows = results.map((r) => {
    const failures = r.timedOut === 0 ? String(r.failures) : r.failures > 0 ? `${r.failures}, timed out` : 'timed out';
    // No finished run: nothing to show but how it ended (timed out, or not run: the bench was interrupted).
    if (r.runs === 0) return [r === best ? '*' : '', r.label, '-', '-', '-', '-', r.timedOut > 0 ? failures : 'not run', ''];
    return [
      r === best ? '*' : '',
      r.label,
      r.tasksPerSecond.toFixed(1),
      `${(r.elapsedMs / 1000).toFixed(2)} s`,
      `${r.peakRssMiB} MiB`,
      String(r.peakBuffered),
      failures,
      r.mainThreadUtilization !== undefined ? `${Math.round(r.mainThreadUtilization * 100)}%` : '', // unknown: left blank
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w, i) => (i === 0 ? ' ' : '-').repeat(w))), ...rows.map(line)];
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
