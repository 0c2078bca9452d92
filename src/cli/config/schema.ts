/**
 * The config of the `sluice` CLI: one zod schema, the type inferred from it, the defaults in one
 * frozen object, and per key what a valid value is (for error messages) and what "unset" means.
 */
import { z } from 'zod';
import { BOUND_DEFAULTS, createLimit, LIMIT_ALGORITHMS, SERVICE_DEFAULTS, SluiceOptionError, type LimitAlgorithm } from '../../index.js';

/** How the input file is read; `auto` goes by its extension (`.csv` is CSV, anything else JSONL). */
export const INPUT_FORMATS = Object.freeze(['auto', 'jsonl', 'csv'] as const);
/** How progress is logged; `auto` is a bar on a terminal and JSON lines otherwise. */
export const LOG_MODES = Object.freeze(['auto', 'bar', 'json', 'none'] as const);

/** An algorithm an io setting may name: `adaptive` (the library's `ADAPTIVE_DEFAULT`) or one of `LIMIT_ALGORITHMS` but `fixed`. */
export type IoAlgorithm = 'adaptive' | Exclude<LimitAlgorithm, 'fixed'>;
/**
 * The names an io setting may take besides a number, derived from the library's `LIMIT_ALGORITHMS`:
 * `adaptive`, then every algorithm but `fixed` (a fixed limit is a bare number).
 */
export const IO_ALGORITHMS = Object.freeze([
  'adaptive',
  ...(Object.keys(LIMIT_ALGORITHMS) as LimitAlgorithm[]).filter((name) => name !== 'fixed'),
]) as readonly [IoAlgorithm, ...IoAlgorithm[]];

/**
 * An algorithm with parameters: the config file's `{"limit": "vegas", "alpha": 2, "max": 64}`,
 * the flag's and SLUICE_IO's `vegas:alpha=2:max=64`. The parameters are the algorithm's own (the
 * keys of its `LIMIT_ALGORITHMS` entry; `adaptive` takes the bounds only), checked by the library.
 */
export interface IoLimitSetting {
  readonly limit: IoAlgorithm;
  readonly [parameter: string]: number | IoAlgorithm;
}

/**
 * The limit of one service: a positive integer is a fixed limit, a name an adaptive algorithm with
 * its default parameters, an object an algorithm with parameters.
 * @example 8
 * @example 'adaptive'
 * @example { limit: 'vegas', alpha: 2, max: 64 }
 */
export type IoSetting = number | IoAlgorithm | IoLimitSetting;

/** The defaults of the parameters `algorithm` takes: its `LIMIT_ALGORITHMS` entry; `adaptive`, the bounds only. */
export function algorithmDefaults(algorithm: IoAlgorithm): Readonly<Record<string, unknown>> {
  return { ...(algorithm === 'adaptive' ? BOUND_DEFAULTS : LIMIT_ALGORITHMS[algorithm]) };
}

/** The parameters `algorithm` takes. */
export function ioParameters(algorithm: IoAlgorithm): readonly string[] {
  return Object.keys(algorithmDefaults(algorithm));
}

/**
 * Checks an algorithm's parameters with the library itself (`createLimit`), so the config takes
 * exactly what `service()` takes, with the same ranges; each problem is an issue at the parameter.
 */
function checkParameters(setting: Readonly<Record<string, unknown>>, ctx: z.RefinementCtx): void {
  const { limit: algorithm, ...parameters } = setting as { limit: IoAlgorithm } & Record<string, unknown>;
  const known = ioParameters(algorithm);
  for (const key of Object.keys(parameters)) {
    if (known.includes(key)) continue;
    const of = algorithm === 'adaptive' ? 'adaptive (the bounds only)' : algorithm;
    ctx.addIssue({ code: 'custom', path: [key], message: `a parameter of ${of}: ${known.join(', ')}` });
    return;
  }
  try {
    createLimit(algorithm === 'adaptive' ? undefined : algorithm, parameters);
  } catch (error) {
    if (!(error instanceof SluiceOptionError)) throw error;
    ctx.addIssue({ code: 'custom', path: [error.option], message: error.expected });
  }
}

/** The most lanes a run may ask for (the library's `MAX_LANES`, src/lanes/threads.ts). */
export const LANES_MAX = 256;
/** How many copies of the job's pipeline a run runs, each in a worker thread: 1 to `LANES_MAX`, or `auto` (resolved by the run). */
export type LanesSetting = number | 'auto';

/** The config when no file, environment variable or flag sets a key. */
export const CONFIG_DEFAULTS = Object.freeze({
  /** @default 'auto' */
  inputFormat: 'auto' as (typeof INPUT_FORMATS)[number],
  /** @default {} (every service keeps the limit the job gives it) */
  io: Object.freeze({}) as Readonly<Record<string, IoSetting>>,
  /** @default false */
  ordered: false,
  /** @default 'auto' */
  log: 'auto' as (typeof LOG_MODES)[number],
  /** @default 1000 */
  logIntervalMs: 1000,
  /** @default 1 (the pipeline on the main thread) */
  lanes: 1 as LanesSetting,
  /** @default 'sluice' */
  queuePrefix: 'sluice',
  /** @default 30000 */
  lockDurationMs: 30_000,
  /** @default 30000 */
  stalledIntervalMs: 30_000,
  /** @default 1 */
  maxStalled: 1,
});

const positiveInt = z.int().positive();
/** The longest timer Node keeps (a longer one fires at once, with a TimeoutOverflowWarning). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const ioAlgorithm = z.enum(IO_ALGORITHMS);
const ioSetting = z.union([
  positiveInt,
  ioAlgorithm,
  z
    .looseObject({ limit: ioAlgorithm })
    .superRefine(checkParameters)
    .transform((setting) => setting as IoLimitSetting),
]);

/** A queue-wide rate: N jobs per second (`N/s`), minute (`N/m`) or span in ms (`N/500ms`). */
export const GLOBAL_RATE = /^[1-9][0-9]*\/([1-9][0-9]*ms|s|m)$/;

/** Each key's schema, without defaults: what one layer (file, environment, flags) may set. */
const fields = {
  input: z.string().min(1),
  inputFormat: z.enum(INPUT_FORMATS),
  output: z.string().min(1),
  threads: positiveInt,
  io: z.record(z.string().min(1), ioSetting),
  buffer: positiveInt,
  ordered: z.boolean(),
  limit: positiveInt,
  log: z.enum(LOG_MODES),
  logIntervalMs: z.int().min(100),
  lanes: z.union([z.int().min(1).max(LANES_MAX), z.literal('auto')]),
  metricsPort: z.int().min(0).max(65535),
  timeoutMs: z.int().min(0).max(MAX_TIMEOUT_MS),
  durable: z.boolean(),
  redis: z.string().regex(/^rediss?:\/\/\S+$/),
  queue: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/),
  queuePrefix: z.string().regex(/^[A-Za-z0-9_.{}-]{1,100}$/),
  lockDurationMs: z.int().min(1000).max(MAX_TIMEOUT_MS),
  stalledIntervalMs: z.int().min(100).max(MAX_TIMEOUT_MS),
  maxStalled: z.int().min(0).max(1000),
  globalConcurrency: positiveInt,
  globalRate: z.string().regex(GLOBAL_RATE),
};

/** One layer of the config: any subset of the keys, and no other key. */
export const layerSchema = z.strictObject(fields).partial();

/** The resolved config: every layer merged over the defaults. */
export const configSchema = z.strictObject({
  input: fields.input.optional(),
  inputFormat: fields.inputFormat.default(CONFIG_DEFAULTS.inputFormat),
  output: fields.output.optional(),
  threads: fields.threads.optional(),
  io: fields.io.default(() => ({ ...CONFIG_DEFAULTS.io })),
  buffer: fields.buffer.optional(),
  ordered: fields.ordered.default(CONFIG_DEFAULTS.ordered),
  limit: fields.limit.optional(),
  log: fields.log.default(CONFIG_DEFAULTS.log),
  logIntervalMs: fields.logIntervalMs.default(CONFIG_DEFAULTS.logIntervalMs),
  lanes: fields.lanes.default(CONFIG_DEFAULTS.lanes),
  metricsPort: fields.metricsPort.optional(),
  timeoutMs: fields.timeoutMs.optional(),
  durable: fields.durable.optional(),
  redis: fields.redis.optional(),
  queue: fields.queue.optional(),
  queuePrefix: fields.queuePrefix.default(CONFIG_DEFAULTS.queuePrefix),
  lockDurationMs: fields.lockDurationMs.default(CONFIG_DEFAULTS.lockDurationMs),
  stalledIntervalMs: fields.stalledIntervalMs.default(CONFIG_DEFAULTS.stalledIntervalMs),
  maxStalled: fields.maxStalled.default(CONFIG_DEFAULTS.maxStalled),
  globalConcurrency: fields.globalConcurrency.optional(),
  globalRate: fields.globalRate.optional(),
});

/**
 * The resolved, validated config of a run. Paths (`input`, `output` other than `-`) are absolute.
 * - `input`: JSONL or CSV task file; unset = the job's own input.
 * - `inputFormat`: `auto` | `jsonl` | `csv`. @default 'auto'
 * - `output`: JSONL outcomes file; unset or `-` = stdout.
 * - `threads`: worker threads of every cpu stage; unset = the job's.
 * - `io`: per service, a fixed limit, an algorithm, or an algorithm with parameters; a service not
 *   named keeps the job's. @default {}
 * - `buffer`: bound of each buffer between stages; unset = the job's.
 * - `ordered`: emit outcomes in input order. @default false
 * - `limit`: take only the first N tasks; unset = all.
 * - `log`: `auto` | `bar` | `json` | `none`. @default 'auto'
 * - `logIntervalMs`: ms between progress logs, >= 100. @default 1000
 * - `lanes`: copies of the job's pipeline, each in a worker thread of its own, 1 to 256, or
 *   `'auto'` (kept as the word: the run resolves it, one lane per 4 cores, at least 2); 1 runs the
 *   pipeline on the main thread. `sluice worker` takes only 1. @default 1
 * - `metricsPort`: serve Prometheus metrics on 127.0.0.1 (0 = any free port); unset = off.
 * - `timeoutMs`: per-attempt timeout (ms) of every io stage without a service and every declared
 *   service that sets no `timeoutMs` of its own; 0 = none; unset = each one's own default.
 * - `durable`: a journaled run fsyncs the output before each commit and commits with a full sync
 *   (power-loss safety, slower); unset = off.
 * - `redis`: the Redis of the queue commands (`enqueue`, `worker`, `status --queue`, `results`,
 *   `queue`), a redis:// or rediss:// URL; a password belongs in the file or SLUICE_REDIS_URL, never
 *   in a flag; unset = redis://127.0.0.1:6379.
 * - `queue`: the queue's name; unset = none (the queue commands need one).
 * - `queuePrefix`: the key prefix of the queue in Redis (a namespace). @default 'sluice'
 * - `lockDurationMs`: how long a claimed job's lock lasts unless renewed, >= 1000. @default 30000
 * - `stalledIntervalMs`: how often a worker looks for stalled jobs, >= 100. @default 30000
 * - `maxStalled`: how many stalls a job survives before it fails for good. @default 1
 * - `globalConcurrency`: a queue-wide cap on active jobs over every worker; unset = none.
 * - `globalRate`: a queue-wide cap on jobs started, `N/s`, `N/m` or `N/MSms`; unset = none.
 */
export type SluiceConfig = z.infer<typeof configSchema>;
/** One layer's values, as validated (before paths are resolved and layers merged). */
export type ConfigLayerValues = z.infer<typeof layerSchema>;
/** A top-level config key. */
export type ConfigKey = keyof SluiceConfig;
/** How a string from the environment or a flag is read before validation. */
export type ValueKind = 'path' | 'word' | 'integer' | 'integer-or-word' | 'boolean' | 'io';

export interface KeySpec {
  /** How an environment or flag string is coerced. */
  readonly kind: ValueKind;
  /** What a valid value is, for error messages: "a positive integer". */
  readonly expected: string;
  /** What the key means when nothing sets it and it has no default value. */
  readonly unset?: string;
}

const POSITIVE = 'a positive integer';
/** What a valid io setting is. */
export const IO_SETTING_EXPECTED =
  `a positive integer, or one of ${IO_ALGORITHMS.join(', ')} with optional parameters ` +
  '({"limit": "vegas", "alpha": 2} in a file, vegas:alpha=2 in a flag or SLUICE_IO)';
/** What a valid `limit` of an io setting with parameters is. */
export const IO_ALGORITHM_EXPECTED = `one of ${IO_ALGORITHMS.join(', ')} (a fixed limit is a bare number, without parameters)`;

/** Every config key, in the order they are listed (help, `sluice config`). */
export const CONFIG_KEYS: Readonly<Record<ConfigKey, KeySpec>> = Object.freeze({
  input: { kind: 'path', expected: 'a non-empty file path', unset: "the job's input" },
  inputFormat: { kind: 'word', expected: `one of ${INPUT_FORMATS.join(', ')}` },
  output: { kind: 'path', expected: 'a non-empty file path or -', unset: 'stdout' },
  threads: { kind: 'integer', expected: POSITIVE, unset: "the job's" },
  io: { kind: 'io', expected: 'an object of service names to settings', unset: "the job's limits" },
  buffer: { kind: 'integer', expected: POSITIVE, unset: "the job's" },
  ordered: { kind: 'boolean', expected: 'true or false' },
  limit: { kind: 'integer', expected: POSITIVE, unset: 'all tasks' },
  log: { kind: 'word', expected: `one of ${LOG_MODES.join(', ')}` },
  logIntervalMs: { kind: 'integer', expected: 'an integer >= 100 (milliseconds)' },
  lanes: { kind: 'integer-or-word', expected: `an integer from 1 to ${LANES_MAX}, or auto` },
  metricsPort: { kind: 'integer', expected: 'an integer from 0 to 65535', unset: 'off' },
  timeoutMs: {
    kind: 'integer',
    expected: `an integer from 0 to ${MAX_TIMEOUT_MS} (milliseconds; 0: no timeout)`,
    unset: `each stage's and service's own; a service's default is ${SERVICE_DEFAULTS.timeoutMs} ms`,
  },
  durable: { kind: 'boolean', expected: 'true or false', unset: 'off' },
  redis: {
    kind: 'word',
    expected: 'a redis:// or rediss:// URL (redis://[user[:password]@]host[:port][/db])',
    unset: 'redis://127.0.0.1:6379',
  },
  queue: { kind: 'word', expected: 'a queue name: 1 to 100 letters, digits, _ . - (not starting with _ . -)', unset: 'none' },
  queuePrefix: { kind: 'word', expected: 'a key prefix: 1 to 100 letters, digits, _ . - { }' },
  lockDurationMs: { kind: 'integer', expected: `an integer from 1000 to ${MAX_TIMEOUT_MS} (milliseconds)` },
  stalledIntervalMs: { kind: 'integer', expected: `an integer from 100 to ${MAX_TIMEOUT_MS} (milliseconds)` },
  maxStalled: { kind: 'integer', expected: 'an integer from 0 to 1000' },
  globalConcurrency: { kind: 'integer', expected: POSITIVE, unset: 'none' },
  globalRate: { kind: 'word', expected: 'N/s, N/m or N/MSms (jobs per second, minute or span), N >= 1', unset: 'none' },
});

/** Whether `key` names a top-level config key. */
export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, key);
}

/** What a valid value of a dotted key (`threads`, `io.docs`) is. */
export function expectedFor(dottedKey: string): string {
  if (/^io\.[^.]+\.limit$/.test(dottedKey)) return IO_ALGORITHM_EXPECTED;
  if (dottedKey.startsWith('io.')) return IO_SETTING_EXPECTED;
  return isConfigKey(dottedKey) ? CONFIG_KEYS[dottedKey].expected : `one of the keys ${Object.keys(CONFIG_KEYS).join(', ')}`;
}

/** What a key is when nothing sets it, as shown by help and `sluice config`: its default or what unset means. */
export function defaultText(key: ConfigKey): string {
  const value: unknown = (CONFIG_DEFAULTS as Readonly<Record<string, unknown>>)[key];
  if (value !== undefined && typeof value !== 'object') return String(value);
  return CONFIG_KEYS[key].unset ?? 'none';
}
