/**
 * Keeps a worker thread alive when a task's result cannot be cloned. Piscina's worker posts
 * `{ taskId, result, error, time }` on its port; a result holding a function, a symbol, a Promise
 * or a stream makes that post throw, Piscina rethrows the error in a microtask, and the thread dies
 * with a reason the main thread cannot even read (`[object Object]`).
 *
 * Piscina's port is out of reach, so `MessagePort.prototype.postMessage` is wrapped, once per
 * thread: when the post of a message whose `result` is a `ResultEnvelope` throws, the same response
 * is posted again with a `clone` failure in its place, naming the first member that cannot be
 * cloned. Nothing was sent and no buffer was moved by the failed post (clone fails before any
 * transfer), and Piscina goes on as after any answer. Every other post in the thread (the user's
 * own ports, the bridge's channel) goes through untouched, its result and errors included; the
 * happy path costs a call and a try, never a walk over the result.
 */
import { MessagePort } from 'node:worker_threads';
import { findUncloneable } from '../wire/clone-path.js';
import { serializeError, type BatchFailure, type CloneFailure } from '../wire/envelope.js';

/** A successful answer of sluice's worker entry; the class marks it as ours where it is posted. */
export class ResultEnvelope {
  readonly ok = true;
  constructor(readonly value: unknown) {}
}

/**
 * A batch's answer (../wire/envelope.ts's `BatchReply`): when it cannot be posted, each of its
 * results is tried alone, and the ones that cannot be cloned become `clone` failures.
 */
export class BatchEnvelope {
  constructor(
    readonly values: unknown[],
    readonly failures: BatchFailure[],
    readonly ms: number,
  ) {}
}

let installed = false;

/** Wraps `MessagePort.prototype.postMessage` in this thread (once). */
export function guardResults(): void {
  if (installed) return;
  installed = true;
  const proto = MessagePort.prototype as { postMessage(...args: unknown[]): unknown };
  const post = proto.postMessage;
  // The native method's return value is kept: BroadcastChannel reads it (undefined = not posted).
  proto.postMessage = function postMessage(this: MessagePort, ...args: unknown[]): unknown {
    try {
      return Reflect.apply(post, this, args);
    } catch (error) {
      const result = ourResult(args[0]);
      if (result === undefined) throw error;
      const response = args[0] as object;
      if (result instanceof ResultEnvelope) return Reflect.apply(post, this, [{ ...response, result: cloneFailure(result.value, error) }]);
      // The transfer list goes again: nothing moved in the failed post, and the batch's other results still move.
      return Reflect.apply(post, this, [{ ...response, result: batchWithFailures(result, error) }, ...args.slice(1)]);
    }
  };
}

/** The envelope in a Piscina response that sluice's entry answered; undefined for any other message. */
function ourResult(message: unknown): ResultEnvelope | BatchEnvelope | undefined {
  if (message === null || typeof message !== 'object') return undefined;
  try {
    const { result } = message as { result?: unknown };
    return result instanceof ResultEnvelope || result instanceof BatchEnvelope ? result : undefined;
  } catch {
    return undefined; // someone else's message, with a getter that throws: not ours
  }
}

/** The batch with each result that cannot be cloned on its own replaced by its `clone` failure. */
function batchWithFailures(batch: BatchEnvelope, error: unknown): BatchEnvelope {
  const failed = new Set(batch.failures.map((f) => f.at));
  const values = [...batch.values];
  const failures = [...batch.failures];
  for (let k = 0; k < values.length; k++) {
    if (failed.has(k)) continue;
    try {
      structuredClone(values[k]);
    } catch (own) {
      failures.push({ at: k, envelope: cloneFailure(values[k], own ?? error) });
      values[k] = undefined;
    }
  }
  return new BatchEnvelope(values, failures, batch.ms);
}

function cloneFailure(value: unknown, error: unknown): CloneFailure {
  return { ok: false, kind: 'clone', error: serializeError(error), found: findUncloneable(value, 'result') };
}
