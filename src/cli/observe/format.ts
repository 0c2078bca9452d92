/** Short human forms of rates and durations for the progress bar. */

/** `0/s`, `3.4/s`, `240/s`, `12.3k/s`, `250k/s`, `1.5M/s`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0/s';
  if (perSecond < 10) return `${trim(perSecond.toFixed(1))}/s`;
  if (perSecond < 10_000) return `${Math.round(perSecond)}/s`;
  if (perSecond < 100_000) return `${trim((perSecond / 1000).toFixed(1))}k/s`;
  if (perSecond < 1_000_000) return `${Math.round(perSecond / 1000)}k/s`;
  return `${trim((perSecond / 1_000_000).toFixed(1))}M/s`;
}

/** `0s`, `24s`, `3m12s`, `1h02m`, `2d03h`: two units at most, rounded up to the second. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function trim(fixed: string): string {
  return fixed.endsWith('.0') ? fixed.slice(0, -2) : fixed;
}
