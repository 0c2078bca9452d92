/**
 * One layer of the config (the file, the environment or the flags): its values, where each came
 * from, and its validation against the schema, with every zod issue turned into a
 * `SluiceConfigError` that names the dotted key, the source, the expected and the received value.
 */
import type { core } from 'zod';
import { SluiceConfigError, type ConfigSource } from '../errors.js';
import { parseIoSetting } from './io-setting.js';
import { CONFIG_KEYS, expectedFor, layerSchema, type ConfigKey, type ConfigLayerValues, type ValueKind } from './schema.js';

export interface Layer {
  /** The values, shaped like the config (`io` a record), as read: before validation. */
  readonly values: Readonly<Record<string, unknown>>;
  /** Where each dotted key (`threads`, `io.docs`) came from; keys not listed come from `source`. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** Where every value of the layer came from, when it is one place (a file). */
  readonly source?: ConfigSource;
  /** The value as the user wrote it, per dotted key, when it differs from the value (strings before coercion). */
  readonly received: Readonly<Record<string, unknown>>;
  /** The directory relative `input`/`output` paths of this layer are resolved against. */
  readonly baseDir: string;
}

/** A string (or a boolean flag) that sets one key, from an environment variable or a flag. */
export interface RawSetting {
  readonly key: ConfigKey;
  readonly raw: string | boolean;
  readonly source: ConfigSource;
}

/** The expected form of an io list, from the environment or a flag. */
export const IO_LIST_EXPECTED = 'SERVICE=SETTING pairs separated by commas (e.g. docs=8,store=adaptive,search=vegas:alpha=2:max=64)';

/** Builds a layer from strings: coerces numbers and booleans, splits io lists. Validates nothing else. */
export function layerFromStrings(settings: readonly RawSetting[], baseDir: string): Layer {
  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  const received: Record<string, unknown> = {};
  for (const { key, raw, source } of settings) {
    if (typeof raw === 'boolean') {
      values[key] = raw;
      sources[key] = source;
      continue;
    }
    if (CONFIG_KEYS[key].kind === 'io') {
      const io = (values.io ?? {}) as Record<string, unknown>;
      for (const [service, setting] of splitIoList(raw, source)) {
        const parsed = parseIoSetting(service, setting, source);
        io[service] = parsed.value;
        sources[`io.${service}`] = source;
        for (const [part, text] of Object.entries(parsed.received))
          received[part === '' ? `io.${service}` : `io.${service}.${part}`] = text;
      }
      values.io = io;
      continue;
    }
    values[key] = coerce(CONFIG_KEYS[key].kind, raw);
    sources[key] = source;
    received[key] = raw;
  }
  return { values, sources, received, baseDir };
}

/** `docs=8,store=adaptive` as [service, setting] pairs; throws on a pair without a name or `=`. */
export function splitIoList(list: string, source: ConfigSource): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of list.split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    const service = eq < 0 ? '' : item.slice(0, eq).trim();
    if (service.length === 0) throw new SluiceConfigError('io', source, IO_LIST_EXPECTED, list);
    pairs.push([service, item.slice(eq + 1).trim()]);
  }
  return pairs;
}

/**
 * Reads a string as the kind of value a key holds. A string that does not read as that kind is
 * returned as it is, so validation rejects it and reports it as received.
 */
export function coerce(kind: ValueKind, raw: string): unknown {
  switch (kind) {
    // An integer-or-word key (`--lanes 4`, `--lanes auto`) keeps a string that is no integer: the schema takes its word.
    case 'integer':
    case 'integer-or-word': {
      const text = raw.trim();
      return /^[+-]?\d+$/.test(text) ? Number(text) : raw;
    }
    case 'boolean': {
      const text = raw.trim().toLowerCase();
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      return raw;
    }
    case 'path':
    case 'word':
    case 'io':
      return raw;
  }
}

/** Validates a layer; throws a `SluiceConfigError` for its first invalid (or unknown) key. */
export function validateLayer(layer: Layer): ConfigLayerValues {
  const result = layerSchema.safeParse(layer.values);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new Error('unreachable: zod failed without an issue');
  const { issue: deepest, path } = deepestIssue(issue, []);
  if (deepest.code === 'unrecognized_keys' && deepest.keys[0] !== undefined) path.push(deepest.keys[0]);
  if (issue.code === 'invalid_key') {
    // A record key (a service name) is invalid: name the record and show the bad name.
    const record = path.slice(0, -1).join('.');
    throw new SluiceConfigError(record, sourceOf(layer, record), 'service names that are not empty', path.at(-1));
  }
  const key = path.join('.');
  const received = Object.hasOwn(layer.received, key) ? layer.received[key] : valueAt(layer.values, path);
  // A custom issue carries its own expectation (an io setting's parameter, checked by the library).
  const expected = deepest.code === 'custom' ? deepest.message : expectedFor(key);
  throw new SluiceConfigError(key, sourceOf(layer, key), expected, received);
}

/**
 * The issue to report and its full path. When no branch of a union matched, a branch that got past
 * the value's type (its issue lies deeper, as an io setting object's `limit` or parameter does)
 * says more than "no branch matched".
 */
type ZodIssue = core.$ZodIssue;

function deepestIssue(issue: ZodIssue, prefix: readonly PropertyKey[]): { issue: ZodIssue; path: string[] } {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    const inner = issue.errors.map((branch) => branch[0]).find((first) => first !== undefined && first.path.length > 0);
    if (inner !== undefined) return deepestIssue(inner, path);
  }
  return { issue, path: path.map(String) };
}

/** Where a dotted key of a layer came from. */
export function sourceOf(layer: Layer, key: string): ConfigSource {
  // The nearest listed key: `io.docs.alpha` comes from where `io.docs` came from.
  const parts = key.split('.');
  let source: ConfigSource | undefined;
  for (let n = parts.length; n > 0 && source === undefined; n--) source = layer.sources[parts.slice(0, n).join('.')];
  source ??= layer.source;
  if (source === undefined) throw new Error(`unreachable: no source for config key ${key}`);
  return source;
}

function valueAt(values: unknown, path: readonly string[]): unknown {
  let at = values;
  for (const step of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[step];
  }
  return at;
}
