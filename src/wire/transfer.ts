/**
 * Finds the binary payloads in a value so they can be moved to (or from) a worker thread instead
 * of being copied. Only buffers that a view covers whole are moved: a Node `Buffer` cut from the
 * shared allocation pool (small buffers) is copied, because moving it would detach the pool under
 * every other Buffer that lives in it.
 */

const MAX_DEPTH = 4;
const MAX_ENTRIES = 1024;

/** The `ArrayBuffer`s that `value` owns whole, found in it and its arrays and plain objects. */
export function collectTransferables(value: unknown): ArrayBuffer[] {
  // A primitive holds nothing to move: no set, no array (this runs for every task of a batch).
  if (value === null || typeof value !== 'object') return [];
  const found = new Set<ArrayBuffer>();
  visit(value, 0, found, { seen: 0 });
  return [...found];
}

function visit(value: unknown, depth: number, found: Set<ArrayBuffer>, budget: { seen: number }): void {
  if (value === null || typeof value !== 'object' || ++budget.seen > MAX_ENTRIES) return;
  if (value instanceof ArrayBuffer) {
    if (!isDetached(value)) found.add(value);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength) {
      if (!isDetached(buffer)) found.add(buffer);
    }
    return;
  }
  if (depth >= MAX_DEPTH) return;
  if (Array.isArray(value)) {
    for (const item of value) visit(item, depth + 1, found, budget);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return;
  for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key], depth + 1, found, budget);
}

function isDetached(buffer: ArrayBuffer): boolean {
  // `detached` is ES2024; an empty buffer has nothing worth moving either way.
  return (buffer as { detached?: boolean }).detached === true || buffer.byteLength === 0;
}
