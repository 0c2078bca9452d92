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

/**
 * The status of a response value: an object with `headers` and a numeric `status` (a fetch
 * `Response`, an axios response) or `statusCode` (an undici `request` result, a got or
 * `http.IncomingMessage` response). Undefined for anything else, so that a plain record with a
 * `status` field is not mistaken for a response.
 */
export function responseStatus(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object' || !('headers' in value)) return undefined;
  const o = value as { status?: unknown; statusCode?: unknown };
  if (typeof o.status === 'number') return o.status;
  if (typeof o.statusCode === 'number') return o.statusCode;
  return undefined;
}

export function defaultClassify(result: { readonly error: unknown } | { readonly value: unknown }): CallOutcome {
  if ('error' in result) {
    const { error } = result;
    if (error instanceof SluiceTimeoutError) return 'dropped';
    const status = statusOf(error);
    if (status !== undefined) return DROP_STATUSES.has(status) ? 'dropped' : 'ignore';
    return codeOf(error) !== undefined ? 'dropped' : 'ignore';
  }
  const status = responseStatus(result.value);
  if (status === undefined) return 'success';
  if (DROP_STATUSES.has(status)) return 'dropped';
  return status >= 400 ? 'ignore' : 'success';
}
