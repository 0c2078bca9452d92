/**
 * Finds where a value that failed to cross between threads cannot be cloned: the path of its
 * first member (in the order structured clone visits them) that the algorithm refuses, such as
 * `result.f` (a function) or `input.body.stream` (a ReadableStream, which can only be moved).
 *
 * It runs only after a post has already failed, so the happy path pays nothing for it. Plain
 * objects, arrays, Maps, Sets and Errors are walked member by member without cloning; any other
 * object is tried with `structuredClone` as a whole, and when it fails its own members are
 * searched, else the object itself is named. Cycles are visited once (clone keeps them), and the
 * walk stops at a depth and a node budget, answering with the deepest failing member it reached.
 */
import { types } from 'node:util';

/** A member that structured clone refuses. */
export interface Uncloneable {
  /** Where it is, from the root name: `result.f`, `input.items[2]`, `result.m.get("k")`. */
  readonly path: string;
  /** What it is: `a function (f)`, `a symbol (Symbol(x))`, `a Promise`, `a ReadableStream`. */
  readonly received: string;
}

const MAX_DEPTH = 64;
const MAX_NODES = 100_000;

/** The first member of `value` that cannot be cloned, or undefined if none is found. */
export function findUncloneable(value: unknown, root: string): Uncloneable | undefined {
  const walk = new Walk();
  try {
    return walk.find(value, root, 0);
  } catch {
    // The value changed under the walk (a getter that throws, a proxy trap): no path to give.
    return undefined;
  }
}

/** True for the errors a post or `structuredClone` raises for a value it cannot send. */
export function isCloneError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'DataCloneError' || (error as { code?: unknown }).code === 'ERR_MISSING_TRANSFERABLE_IN_TRANSFER_LIST';
}

class Walk {
  readonly #seen = new Set<object>();
  #nodes = 0;

  find(value: unknown, path: string, depth: number): Uncloneable | undefined {
    if (typeof value === 'function') return { path, received: `a function (${value.name || 'anonymous'})` };
    if (typeof value === 'symbol') return { path, received: `a symbol (${value.toString()})` };
    if (value === null || typeof value !== 'object') return undefined;
    if (this.#seen.has(value)) return undefined;
    this.#seen.add(value);
    if (++this.#nodes > MAX_NODES || depth >= MAX_DEPTH) {
      return clones(value) ? undefined : { path, received: `${kindOf(value)} (not searched deeper)` };
    }
    if (types.isProxy(value)) return { path, received: 'a Proxy' };
    if (isLeaf(value)) return undefined;
    if (refused(value)) return { path, received: kindOf(value) };
    if (value instanceof Map) return this.#map(value, path, depth);
    if (value instanceof Set) return this.#list([...value], (i) => `${path}.values()[${i}]`, depth);
    if (value instanceof Error) {
      // Clone keeps an Error's name, message, stack and cause, and drops its other properties.
      return 'cause' in value ? this.find(value.cause, `${path}.cause`, depth + 1) : undefined;
    }
    if (Array.isArray(value) || isPlain(value)) return this.#members(value, path, depth);
    // A class instance is cloned as its own enumerable members, unless it is a host object.
    if (clones(value)) return undefined;
    const inner = this.#members(value, path, depth);
    return inner === undefined
      ? { path, received: kindOf(value) }
      : { path: inner.path, received: `${inner.received}, inside ${kindOf(value)} at ${path}` };
  }

  #members(value: object, path: string, depth: number): Uncloneable | undefined {
    const isArray = Array.isArray(value);
    for (const key of Object.keys(value)) {
      const childPath = isArray && /^\d+$/.test(key) ? `${path}[${key}]` : `${path}${property(key)}`;
      const found = this.find((value as Record<string, unknown>)[key], childPath, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  #map(map: Map<unknown, unknown>, path: string, depth: number): Uncloneable | undefined {
    let i = 0;
    for (const [key, member] of map) {
      const atKey = this.find(key, `${path}.keys()[${i}]`, depth + 1);
      if (atKey !== undefined) return atKey;
      const at = isKeyShown(key) ? `${path}.get(${JSON.stringify(key)})` : `${path}.values()[${i}]`;
      const atValue = this.find(member, at, depth + 1);
      if (atValue !== undefined) return atValue;
      i += 1;
    }
    return undefined;
  }

  #list(items: readonly unknown[], pathOf: (i: number) => string, depth: number): Uncloneable | undefined {
    for (let i = 0; i < items.length; i++) {
      const found = this.find(items[i], pathOf(i), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}

/** Types that clone as they are, with nothing inside to search. */
function isLeaf(value: object): boolean {
  return (
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    value instanceof Date ||
    value instanceof RegExp ||
    (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer) ||
    types.isNumberObject(value) ||
    types.isStringObject(value) ||
    types.isBooleanObject(value) ||
    types.isBigIntObject(value)
  );
}

/** Types structured clone always refuses. */
function refused(value: object): boolean {
  return (
    types.isPromise(value) ||
    types.isWeakMap(value) ||
    types.isWeakSet(value) ||
    types.isSymbolObject(value) ||
    value instanceof WeakRef ||
    value instanceof FinalizationRegistry
  );
}

function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function clones(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function kindOf(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name !== 'string' || name === '') return 'an object';
  return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}

function property(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function isKeyShown(key: unknown): key is string | number | boolean {
  return typeof key === 'string' || typeof key === 'number' || typeof key === 'boolean';
}
