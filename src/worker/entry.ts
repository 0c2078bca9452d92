/**
 * The module every Piscina thread of a cpu stage runs. It loads the user's worker module (named in
 * `workerData`), calls the chosen export for each task, and answers with an `Envelope`. It moves
 * binary payloads of the result back to the main thread unless the stage opted out.
 *
 * Each task message is a `TaskMessage` (the input, its index and key). On a stage that declares
 * `expose` or `onProgress` it is a `BridgedTask` (with a task id too) and the function gets a
 * context that calls home on the thread's link (./context.ts); on other stages the context only
 * says the index and key.
 *
 * A result that cannot be cloned is answered as a `clone` failure by ./result-guard.ts.
 *
 * A batching stage posts a `BatchMessage` instead: its tasks run one after another, each exactly
 * as a lone task would (its own context, bridge, failure and transfers), and one `BatchReply`
 * answers them all, with the time the thread spent on them (the stage sizes its batches from it).
 *
 * It stands apart from the pipeline: it imports only piscina's `move`, the wire format (../wire/),
 * errors and the TypeScript loader, never what runs on the main thread.
 */
import { workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { isTypeScript, registerTypeScript } from '../typescript.js';
import {
  isBatchMessage,
  serializeError,
  type BatchFailure,
  type BatchMessage,
  type EntryData,
  type Envelope,
  type FailureKind,
  type TaskMessage,
} from '../wire/envelope.js';
import type { BridgedTask } from '../wire/link.js';
import { collectTransferables } from '../wire/transfer.js';
import { plainContext, taskBridges } from './context.js';
import { BatchEnvelope, guardResults, ResultEnvelope } from './result-guard.js';
import type { WorkerContext } from './types.js';

type Handler = (input: unknown, ctx: WorkerContext) => unknown;

const kTransferable = Symbol.for('Piscina.transferable');
const kValue = Symbol.for('Piscina.valueOf');

const data = workerData as EntryData;
/** No buffers to move (shared, never written to). */
const NONE: unknown[] = [];
// A result that cannot be cloned fails its task alone, with the path of the culprit.
guardResults();
const openBridge = data.bridge ? taskBridges(data.bridge) : undefined;

class LoadFailure {
  constructor(
    readonly kind: 'load' | 'export',
    readonly error: unknown,
  ) {}
}

// Start loading at once, so the module is ready when the first task arrives. The rejection is
// handled here and reported per task.
const handler: Promise<Handler | LoadFailure> = (isTypeScript(data.file) ? registerTypeScript() : Promise.resolve())
  .then(() => import(data.file) as Promise<Record<string, unknown>>)
  .then(
    (mod: Record<string, unknown>) => {
      const fn = exportOf(mod, data.exportName);
      if (typeof fn === 'function') return fn as Handler;
      const exported = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
      return new LoadFailure(
        'export',
        new TypeError(
          `Expected worker module ${data.file} to export a function named \`${data.exportName}\`, got ${typeof fn}` +
            ` (functions exported: ${exported.length > 0 ? exported.join(', ') : 'none'})`,
        ),
      );
    },
    (error: unknown) => new LoadFailure('load', error),
  );

/**
 * The export `name` of a module. A CommonJS module's `exports` object is its ES `default`, so
 * TypeScript's CommonJS output (`exports.default = fn`) puts the function at `default.default`.
 */
function exportOf(mod: Record<string, unknown>, name: string): unknown {
  const direct = mod[name];
  if (typeof direct === 'function' || name !== 'default') return direct;
  const inner = (direct as { default?: unknown } | null | undefined)?.default;
  return typeof inner === 'function' ? inner : direct;
}

export default async function runTask(message: TaskMessage | BatchMessage): Promise<unknown> {
  if (isBatchMessage(message)) return runBatch(message);
  const fn = await handler;
  const { envelope, transferList } = await runOne(fn, message);
  if (transferList.length === 0) return envelope;
  return move({ [kTransferable]: [...new Set(transferList)], [kValue]: envelope } as never);
}

/** The tasks of a batch, one after another; one reply holds every value and one list every buffer to move. */
async function runBatch(batch: BatchMessage): Promise<unknown> {
  const fn = await handler;
  const started = performance.now();
  const { inputs, indexes, keys, ids } = batch;
  const values = new Array<unknown>(inputs.length);
  const failures: BatchFailure[] = [];
  let transfers: unknown[] = NONE;
  for (let k = 0; k < inputs.length; k++) {
    const message = { input: inputs[k], index: indexes[k]!, key: keys?.[k], ...(ids ? { id: ids[k]! } : {}) };
    const { envelope, transferList } = await runOne(fn, message);
    if (envelope instanceof ResultEnvelope) values[k] = envelope.value;
    else failures.push({ at: k, envelope });
    if (transferList.length > 0) transfers = transfers === NONE ? [...transferList] : transfers.concat(transferList);
  }
  const reply = new BatchEnvelope(values, failures, performance.now() - started);
  if (transfers.length === 0) return reply;
  return move({ [kTransferable]: [...new Set(transfers)], [kValue]: reply } as never);
}

async function runOne(
  fn: Handler | LoadFailure,
  message: TaskMessage,
): Promise<{ envelope: ResultEnvelope | Envelope; transferList: unknown[] }> {
  const bridge = openBridge?.(message as BridgedTask);
  if (fn instanceof LoadFailure) {
    bridge?.end();
    return { envelope: failure(fn.kind, fn.error), transferList: NONE };
  }
  let value: unknown;
  try {
    value = fn(message.input, bridge ? bridge.context : plainContext(message.index, message.key));
    // A synchronous function's result is taken as it is: an await would cost a turn per task.
    if (isThenable(value)) value = await value;
  } catch (error) {
    return { envelope: failure('throw', error), transferList: NONE };
  } finally {
    bridge?.end();
  }
  let transferList: unknown[] = NONE;
  if (value !== null && typeof value === 'object' && kTransferable in value && kValue in value) {
    // The user's own Piscina.move(): honour its transfer list.
    const movable = value as Record<symbol, unknown>;
    transferList = ([] as unknown[]).concat(movable[kTransferable]);
    value = movable[kValue];
  }
  const envelope = new ResultEnvelope(value);
  if (data.transfer) {
    const found = collectTransferables(value);
    if (found.length > 0) transferList = transferList === NONE ? found : [...new Set([...transferList, ...found])];
  }
  return { envelope, transferList };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
  );
}

function failure(kind: FailureKind, error: unknown): Envelope {
  return { ok: false, kind, error: serializeError(error) };
}
