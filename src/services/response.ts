/**
 * What a service call does with responses it does not hand back. An attempt's returned response
 * that fails the call becomes a `SluiceResponseError`; a response nobody will read (a retried
 * attempt's, the failure's, one that arrived after its attempt was aborted) has its body cancelled,
 * because an unread fetch body holds its connection until the garbage collector finds it (undici's
 * advice: always consume or cancel the body).
 */
import { STATUS_CODES } from 'node:http';
import { SluiceResponseError } from '../errors.js';
import type { CallOutcome } from './classify.js';
import { responseStatus } from './classify.js';

const noop = (): void => undefined;

/**
 * Whether a returned value fails its call: classified dropped (only the last attempt gets here),
 * or a response with status >= 400 that the classifier did not call a success. Any other value
 * classified `ignore` is a success that simply gave the limit no sample.
 */
export function isFailedValue(value: unknown, outcome: CallOutcome): boolean {
  if (outcome === 'success') return false;
  if (outcome === 'dropped') return true;
  const status = responseStatus(value);
  return status !== undefined && status >= 400;
}

/** The error a call rejects with when its last attempt returned `value`, a failed value. */
export function responseError(service: string, attempts: number, value: unknown): SluiceResponseError {
  discardBody(value);
  const status = responseStatus(value);
  const o = value as { statusText?: unknown; statusMessage?: unknown } | undefined;
  // fetch and axios say statusText; Node's IncomingMessage (got) says statusMessage.
  const own = status === undefined ? undefined : typeof o?.statusText === 'string' ? o.statusText : o?.statusMessage;
  const statusText = typeof own === 'string' && own.length > 0 ? own : undefined;
  const phrase = statusText ?? (status === undefined ? undefined : STATUS_CODES[status]);
  return new SluiceResponseError({ service, attempts, status, statusText, phrase, response: value });
}

/**
 * Cancels the body of a response that nobody will read: a web `ReadableStream` (a fetch
 * `Response`'s; left alone while something reads it) is cancelled, a Node stream (an undici
 * `request` result's) destroyed. Both close an unfinished response's connection, as aborting the
 * request would; undici's `dump()` would keep it for reuse, but waits for the rest of a body that
 * a hung server may never send. Anything else is left as it is. Never throws.
 */
export function discardBody(value: unknown): void {
  if (responseStatus(value) === undefined) return;
  const body = (value as { body?: unknown }).body;
  if (body === null || typeof body !== 'object') return;
  const b = body as { locked?: unknown; cancel?: unknown; destroy?: unknown; on?: unknown };
  try {
    if (typeof b.cancel === 'function') {
      if (b.locked !== true) Promise.resolve((b.cancel as () => unknown).call(body)).catch(noop);
    } else if (typeof b.destroy === 'function') {
      // Destroying an unfinished undici body emits an AbortError: nobody is there to hear it.
      if (typeof b.on === 'function') (b.on as (event: string, listener: () => void) => unknown).call(body, 'error', noop);
      (b.destroy as () => unknown).call(body);
    }
  } catch {
    // A body that cannot be cancelled is left to the garbage collector.
  }
}

/** The response an error carries (`error.response`, as fetch wrappers, axios and got attach it). */
export function responseOfError(error: unknown): unknown {
  return error !== null && typeof error === 'object' ? (error as { response?: unknown }).response : undefined;
}
