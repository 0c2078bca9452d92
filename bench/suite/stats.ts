/** The statistics every bench scenario reports. */

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
