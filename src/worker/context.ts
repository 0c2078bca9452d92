/**
 * The worker half of the bridge: builds the `WorkerContext` a worker function gets as its second
 * argument. On a bridged stage the thread has one link home for its whole life (a BroadcastChannel
 * whose name the main side derives from the same stage key and thread id, see ../bridge/main.ts),
 * opened on first use and shared by its tasks: `ctx.host()` calls through comlink on it,
 * `ctx.progress()` posts one-way messages on it, and both tag what they send with the task's id.
 * Imports comlink, the wire format (../wire/) and errors only.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { wrap, type Endpoint } from 'comlink';
import { SluiceBridgeError } from '../errors.js';
import { deserializeError, type SerializedError } from '../wire/envelope.js';
import { linkName, PROGRESS_KEY, REMOTE_ERROR_KEY, type BridgeData, type BridgedTask, type ProgressMessage } from '../wire/link.js';
import type { WorkerContext } from './types.js';

type RemoteFunction = (...args: unknown[]) => Promise<unknown>;

function plainHost(): never {
  throw new SluiceBridgeError('This cpu stage exposes no functions to its workers: declare them with cpu(name, file, { expose: { ... } })');
}

function plainProgress(): void {
  // Nobody listens: reporting is allowed and costs nothing.
}

/** The context of a task on a stage without a bridge: its index and key, and two shared functions. */
export function plainContext(index: number, key: string | undefined): WorkerContext {
  return { index, key: key ?? String(index), host: plainHost, progress: plainProgress };
}

export interface TaskBridge {
  readonly context: WorkerContext;
  /** The task has ended: later progress is dropped, later calls reject, pending ones never settle. */
  end(): void;
}

/** Per stage (once per thread): returns the function that opens the bridge of each task message. */
export function taskBridges(data: BridgeData): (message: BridgedTask) => TaskBridge {
  const names = new Set(data.names);
  const listed = data.names.length > 0 ? data.names.join(', ') : 'none';
  let link: BroadcastChannel | undefined;
  let remote: Record<string, RemoteFunction> | undefined;
  const remotes = new Map<string, RemoteFunction>();

  function channel(): BroadcastChannel {
    link ??= new BroadcastChannel(linkName(data.key, threadId));
    return link;
  }

  /** comlink's function for `name`, read once: comlink makes (and registers) a proxy on every read. */
  function remoteFunction(name: string): RemoteFunction {
    let fn = remotes.get(name);
    if (fn === undefined) {
      remote ??= wrap<Record<string, RemoteFunction>>(channel() as unknown as Endpoint) as unknown as Record<string, RemoteFunction>;
      fn = remote[name]!;
      remotes.set(name, fn);
    }
    return fn;
  }

  return (message) => {
    const { index, key, id } = message;
    let ended = false;
    let host: object | undefined;

    function call(name: string, args: unknown[]): Promise<unknown> {
      if (ended) {
        const late = Promise.reject(new SluiceBridgeError(`host().${name}() was called after task #${index} ended: the call was not made`));
        // Pre-handled: a straggler (a timer, an un-awaited promise) must not kill the thread,
        // which may be running the next task by now. Whoever awaits it still gets the error.
        late.catch(() => undefined);
        return late;
      }
      const sent = remoteFunction(name)(id, ...args);
      // An answer that comes after the task ended is dropped: the promise never settles, so
      // nothing left over from this task can reject, unhandled, inside the next one.
      return new Promise((resolve, reject) => {
        sent.then(
          (value) => ended || resolve(value),
          (error: unknown) => ended || reject(remoteError(error)),
        );
      });
    }

    function unknownName(name: string): RemoteFunction {
      return () => Promise.reject(new SluiceBridgeError(`host().${name}() is not exposed by this cpu stage; exposed: ${listed}`));
    }

    const context: WorkerContext = {
      index,
      key: key ?? String(index),
      host() {
        if (names.size === 0) return plainHost();
        host ??= hostObject(names, call, unknownName);
        return host as never;
      },
      progress(value: unknown): void {
        if (ended || !data.progress) return;
        channel().postMessage({ [PROGRESS_KEY]: true, id, value } satisfies ProgressMessage);
      },
    };
    return {
      context,
      end() {
        ended = true;
      },
    };
  };
}

/**
 * The object `host()` returns: a function per exposed name, a rejecting one for any other name, and
 * no `then` (so awaiting the object itself does not call home).
 */
function hostObject(
  names: ReadonlySet<string>,
  call: (name: string, args: unknown[]) => Promise<unknown>,
  unknownName: (name: string) => RemoteFunction,
): object {
  const fns = new Map<string, RemoteFunction>();
  return new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      let fn = fns.get(prop);
      if (fn === undefined) {
        fn = names.has(prop) ? (...args: unknown[]) => call(prop, args) : unknownName(prop);
        fns.set(prop, fn);
      }
      return fn;
    },
    has: (_target, prop) => typeof prop === 'string' && names.has(prop),
    ownKeys: () => [...names],
    getOwnPropertyDescriptor: (_target, prop) =>
      typeof prop === 'string' && names.has(prop) ? { configurable: true, enumerable: true, writable: false, value: undefined } : undefined,
  });
}

/** An exposed function's error, back as an Error (with its name, code, cause and other properties). */
function remoteError(error: unknown): unknown {
  if (error !== null && typeof error === 'object' && REMOTE_ERROR_KEY in error) {
    return deserializeError((error as Record<string, unknown>)[REMOTE_ERROR_KEY] as SerializedError);
  }
  return error;
}
