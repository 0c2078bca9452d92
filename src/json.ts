/**
 * Values and errors as JSON carries them: what an outcome line (`sluice run`) and a queue's stored
 * results hold. Anything a task, a value or an error may hold becomes valid JSON: bytes are
 * summarised (never dumped), bigints become strings, cycles are cut, and errors keep their name,
 * code, message, primitive fields and causes.
 */

/** Causes followed below an error, at most. */
const CAUSE_DEPTH = 5;
/** Nesting followed inside a value, at most; deeper parts become "[Deep]". */
const VALUE_DEPTH = 64;

/**
 * Something JSON.stringify writes faithfully. `undefined` (and functions, symbols) stay undefined,
 * so JSON.stringify leaves the key out of an object (and writes null in an array).
 */
export function toJson(value: unknown, depth = 0, ancestors: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
    case 'undefined':
      return undefined;
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    return { $bytes: value.byteLength };
  }
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= VALUE_DEPTH) return '[Deep]';
  if (value instanceof Error) return errorJson(value, 0, ancestors);
  ancestors.add(value);
  try {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJson(toJSON.call(value), depth + 1, ancestors);
    if (Array.isArray(value)) return value.map((item) => toJson(item, depth + 1, ancestors));
    if (value instanceof Set) return [...value].map((item) => toJson(item, depth + 1, ancestors));
    if (value instanceof Map) {
      return [...value].map(([k, v]) => [toJson(k, depth + 1, ancestors), toJson(v, depth + 1, ancestors)]);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      out[key] = toJson((value as Record<string, unknown>)[key], depth + 1, ancestors);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

/**
 * An error as `{ name, code?, message, ...own primitive fields, cause? }`; causes are followed
 * `CAUSE_DEPTH` deep. A thrown value that is not an Error becomes `{ value }`.
 */
export function errorJson(error: unknown, depth = 0, ancestors: Set<object> = new Set()): unknown {
  if (!(error instanceof Error)) return { value: toJson(error, 0, ancestors) };
  if (ancestors.has(error)) return '[Circular]';
  const out: Record<string, unknown> = { name: error.name };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = primitive(code);
  out.message = error.message;
  for (const key of Object.keys(error)) {
    if (Object.hasOwn(out, key) || key === 'cause' || key === 'stack') continue;
    const field = primitive((error as unknown as Record<string, unknown>)[key]);
    if (field !== undefined) out[key] = field;
  }
  if (error.cause !== undefined && depth < CAUSE_DEPTH) {
    ancestors.add(error);
    try {
      out.cause = errorJson(error.cause, depth + 1, ancestors);
    } finally {
      ancestors.delete(error);
    }
  }
  return out;
}

/** A primitive as JSON carries it (bigint as a string); undefined for anything else. */
function primitive(value: unknown): string | number | boolean | null | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  return typeof value === 'bigint' ? value.toString() : undefined;
}
