/** Medians per setting of `sluice bench`, the best one, and the table printed. */
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
}

export function summarize(label: string, flags: readonly string[], runs: readonly ChildSummary[]): SettingResult {
  return {
    label,
    flags,
    runs: runs.length,
    tasksPerSecond: median(runs.map((r) => r.tasksPerSecond)),
    elapsedMs: median(runs.map((r) => r.elapsedMs)),
    peakRssMiB: Math.round(median(runs.map((r) => r.peakRssBytes)) / 2 ** 20),
    peakBuffered: Math.max(...runs.map((r) => r.peakBuffered)),
    failures: Math.max(...runs.map((r) => r.failed + r.rejectedRecords)),
  };
}

/** The fastest setting among those with no failures. */
export function bestOf(results: readonly SettingResult[]): SettingResult | undefined {
  let best: SettingResult | undefined;
  for (const r of results) if (r.failures === 0 && (best === undefined || r.tasksPerSecond > best.tasksPerSecond)) best = r;
  return best;
}

export function formatTable(results: readonly SettingResult[], best: SettingResult | undefined): string[] {
  const header = ['', 'setting', 'tasks/s', 'wall', 'peak RSS', 'peak buffered', 'failures'];
  const rows = results.map((r) => [
    r === best ? '*' : '',
    r.label,
    r.tasksPerSecond.toFixed(1),
    `${(r.elapsedMs / 1000).toFixed(2)} s`,
    `${r.peakRssMiB} MiB`,
    String(r.peakBuffered),
    String(r.failures),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w, i) => (i === 0 ? ' ' : '-').repeat(w))), ...rows.map(line)];
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
