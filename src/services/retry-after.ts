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

/** How deep `response` (and `response.response`) is followed. */
const MAX_DEPTH = 3;

/**
 * The Retry-After value an error or a response carries, whatever shape its HTTP client gives it
 * (undefined when there is none). Read, in this order, from `source`:
 * 1. `retryAfter`: a number of seconds, or a string (delay-seconds or an HTTP-date);
 * 2. `headers`, the header matched case-insensitively: a `Headers` or anything with `get(name)`
 *    (fetch, axios's `AxiosHeaders`), a `Map`, or a plain object (node:http, got, undici; any key
 *    case, a string, number or array value);
 * 3. `response`, read the same way when `headers` lacks it or is absent: `error.response` of a
 *    fetch wrapper (a `Response`), axios or got.
 * So `throw { status: 503, headers: { 'Retry-After': '2' } }`, a fetch `Response`, an error with a
 * `response`, undici's `errors.ResponseError` (`statusCode`, `headers`, as its `responseError`
 * interceptor throws it), axios's `AxiosError` and got's `HTTPError` are all read.
 */
export function retryAfterHeader(source: unknown, depth = 0): unknown {
  if (source === null || typeof source !== 'object' || depth > MAX_DEPTH) return undefined;
  const s = source as { headers?: unknown; response?: unknown; retryAfter?: unknown };
  const own = headerValue(s.retryAfter) ?? headerValue(fromHeaders(s.headers));
  if (own !== undefined) return own;
  return s.response !== source ? retryAfterHeader(s.response, depth + 1) : undefined;
}

/** The retry-after entry of a headers object of any common shape, matched case-insensitively. */
function fromHeaders(headers: unknown): unknown {
  if (headers === null || typeof headers !== 'object') return undefined;
  if (headers instanceof Map) {
    for (const [key, value] of headers) if (isRetryAfter(key)) return value;
    return undefined;
  }
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') {
    // Headers and AxiosHeaders match any case; a hand-made get() may not, so try the usual two.
    const read = get as (this: unknown, name: string) => unknown;
    return headerValue(read.call(headers, 'retry-after')) ?? headerValue(read.call(headers, 'Retry-After'));
  }
  for (const key of Object.keys(headers)) if (isRetryAfter(key)) return (headers as Record<string, unknown>)[key];
  return undefined;
}

function isRetryAfter(key: unknown): boolean {
  return typeof key === 'string' && key.length === 11 && key.toLowerCase() === 'retry-after';
}

/** A header value parseRetryAfter reads: a string, the first of an array, a number as its text. */
function headerValue(value: unknown): string | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  return typeof value === 'string' ? value : undefined;
}
