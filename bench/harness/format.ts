/** Number formatting for the scenarios' tables and progress lines. */

/** `x` with `digits` decimals; 'n/a' when there is no figure (undefined, NaN, ±∞). */
export const fixed = (x: number | undefined, digits: number): string =>
  x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);

/** A whole number with thousands separators: 100000 → "100,000". */
export const int = (x: number): string => Math.round(x).toLocaleString('en-US');
