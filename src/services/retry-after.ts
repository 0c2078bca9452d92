/**
 * Parses an HTTP `Retry-After` value: delay-seconds (`120`) or an HTTP-date. Malformed values are
 * ignored (undefined); absurd ones are capped, so a buggy server cannot park a job for a day.
 */

/** Milliseconds to wait, or undefined when the value is missing or malformed. */
export function parseRetryAfter(value: unknown, nowMs: number, capMs: number): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length === 0) return undefined;
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // An HTTP-date (IMF-fixdate, or the obsolete forms Date.parse also reads). Require a weekday
    // or month name so that stray numbers ("1.5", "-3") are not read as dates.
    if (!/[A-Za-z]{3}/.test(text)) return undefined;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - nowMs;
  }
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), capMs);
}

/** The Retry-After header of an error or a response, whatever shape the HTTP client gives it. */
export function retryAfterHeader(source: unknown): unknown {
  if (source === null || typeof source !== 'object') return undefined;
  const s = source as { headers?: unknown; response?: unknown; retryAfter?: unknown };
  if (s.retryAfter !== undefined) return typeof s.retryAfter === 'number' ? String(s.retryAfter) : s.retryAfter;
  const headers = s.headers;
  if (headers !== null && typeof headers === 'object') {
    const get = (headers as { get?: unknown }).get;
    if (typeof get === 'function') return (get as (name: string) => unknown).call(headers, 'retry-after') ?? undefined;
    return (headers as Record<string, unknown>)['retry-after'];
  }
  if (s.response !== undefined) return retryAfterHeader(s.response);
  return undefined;
}
