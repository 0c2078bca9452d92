/** The statistics and small helpers every bench scenario uses. */

/** The median of `xs`; undefined when there is none. */
export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The median of `xs`, NaN when there is none (for tables that print NaN as n/a). */
export function medianOrNaN(xs: readonly number[]): number {
  return median(xs) ?? Number.NaN;
}

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** `xs` rotated left by `k`: round r runs the strategies in order `rotate(xs, r - 1)`, so no one always goes first. */
export const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

/** CPU time (user + sys, ms) of a `process.cpuUsage()` reading or difference. */
export const cpuMsOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
