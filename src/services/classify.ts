/**
 * Every call to a service ends as one of three outcomes, and only two of them teach the limit
 * anything: `success` (a latency sample), `dropped` (a loss signal: timeout, HTTP 429/503,
 * connection reset or refused; the call is retried) and `ignore` (any other failure, such as a
 * 404 or a bug: no sample, no retry). Users can classify their own errors and responses.
 */
import { SluiceTimeoutError } from '../errors.js';

export type CallOutcome = 'success' | 'dropped' | 'ignore';

/**
 * Classifies a finished attempt: `{ error }` when it threw, `{ value }` when it returned. Return
 * undefined to fall back to the default classification.
 */
export type Classifier = (result: { readonly error: unknown } | { readonly value: unknown }) => CallOutcome | undefined;

/** Node and undici codes that mean the service (or the path to it) is overloaded or gone. */
const DROP_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const DROP_STATUSES = new Set([429, 503]);

/** The HTTP status carried by a fetch Response, an undici/axios/got-style error, or our own. */
export function statusOf(x: unknown): number | undefined {
  if (x === null || typeof x !== 'object') return undefined;
  const o = x as { status?: unknown; statusCode?: unknown; response?: unknown };
  if (typeof o.status === 'number') return o.status;
  if (typeof o.statusCode === 'number') return o.statusCode;
  if (o.response !== undefined && o.response !== x) return statusOf(o.response);
  return undefined;
}

function codeOf(error: unknown, depth = 0): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 3) return undefined;
  const e = error as { code?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && DROP_CODES.has(e.code)) return e.code;
  return codeOf(e.cause, depth + 1);
}

/** Looks like a fetch `Response` (or any response object with a numeric status and headers). */
export function isResponseLike(value: unknown): value is { status: number; headers: unknown } {
  return value !== null && typeof value === 'object' && typeof (value as { status?: unknown }).status === 'number' && 'headers' in value;
}

export function defaultClassify(result: { readonly error: unknown } | { readonly value: unknown }): CallOutcome {
  if ('error' in result) {
    const { error } = result;
    if (error instanceof SluiceTimeoutError) return 'dropped';
    const status = statusOf(error);
    if (status !== undefined) return DROP_STATUSES.has(status) ? 'dropped' : 'ignore';
    return codeOf(error) !== undefined ? 'dropped' : 'ignore';
  }
  const { value } = result;
  if (isResponseLike(value)) {
    if (DROP_STATUSES.has(value.status)) return 'dropped';
    return value.status >= 400 ? 'ignore' : 'success';
  }
  return 'success';
}
