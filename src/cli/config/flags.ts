/**
 * The flags of `sluice run` and `sluice config`. One table drives parsing (node's `util.parseArgs`,
 * strict), the help text and the mapping of each flag to its config key.
 */
import { parseArgs } from 'node:util';
import { SluiceUsageError } from '../errors.js';
import { ENV_VARS, CONFIG_ENV } from './env.js';
import { CONFIG_FILE_NAME } from './file.js';
import { layerFromStrings, type Layer, type RawSetting } from './layer.js';
import { ADAPTIVE_DEFAULT } from '../../index.js';
import { IO_ALGORITHMS, algorithmDefaults, defaultText, ioParameters, type ConfigKey } from './schema.js';

interface FlagSpec {
  /** The config key the flag sets; null for `--config`, which picks the file instead. */
  readonly key: ConfigKey | null;
  readonly type: 'string' | 'boolean';
  /** Whether the flag may be given more than once (its values accumulate). */
  readonly multiple?: boolean;
  /** The name of its argument in the help text. */
  readonly arg?: string;
  readonly text: string;
}

/** Every flag (without its `--`), what it sets and how it is described. */
export const RUN_FLAGS = Object.freeze({
  input: { key: 'input', type: 'string', arg: 'FILE', text: 'JSONL or CSV task file' },
  'input-format': { key: 'inputFormat', type: 'string', arg: 'FORMAT', text: 'auto, jsonl or csv (auto: by extension)' },
  output: { key: 'output', type: 'string', arg: 'FILE', text: 'JSONL outcomes file, - for stdout' },
  threads: { key: 'threads', type: 'string', arg: 'N', text: 'worker threads of every cpu stage' },
  io: {
    key: 'io',
    type: 'string',
    multiple: true,
    arg: 'SERVICE=SETTING',
    text:
      `limit of a service: N (fixed), or ${IO_ALGORITHMS.join(', ')} with optional parameters ALGORITHM:PARAM=VALUE:... ` +
      '(docs=vegas:alpha=2:max=64); repeatable, or a list docs=8,store=aimd:max=32',
  },
  buffer: { key: 'buffer', type: 'string', arg: 'N', text: 'bound of each buffer between stages' },
  ordered: { key: 'ordered', type: 'boolean', text: 'emit outcomes in input order (--no-ordered: as they finish)' },
  limit: { key: 'limit', type: 'string', arg: 'N', text: 'take only the first N tasks of the input' },
  log: { key: 'log', type: 'string', arg: 'MODE', text: 'auto, bar, json or none (auto: bar on a terminal, else json)' },
  'log-interval': { key: 'logIntervalMs', type: 'string', arg: 'MS', text: 'milliseconds between progress logs, >= 100' },
  lanes: {
    key: 'lanes',
    type: 'string',
    arg: 'N|auto',
    text: "copies of the job's pipeline, each in a worker thread of its own (1: on the main thread; auto: one per 4 cores, at least 2)",
  },
  'metrics-port': { key: 'metricsPort', type: 'string', arg: 'N', text: 'serve Prometheus metrics on 127.0.0.1 (0: any free port)' },
  timeout: {
    key: 'timeoutMs',
    type: 'string',
    arg: 'MS',
    text: 'per-attempt timeout of io stages and services that set none (0: none)',
  },
  durable: {
    key: 'durable',
    type: 'boolean',
    text: 'fsync the output before each journal commit, and commit with a full sync (power-loss safety, slower)',
  },
  config: { key: null, type: 'string', arg: 'FILE', text: 'the config file' },
} as const satisfies Record<string, FlagSpec>);

export type FlagName = keyof typeof RUN_FLAGS;

/**
 * The flags of the queue commands (`enqueue`, `worker`, `status --queue`, `results`, `queue`) that
 * set config keys; each command takes the ones it lists (queue/args.ts), beside RUN_FLAGS' own.
 */
export const QUEUE_FLAGS = Object.freeze({
  queue: { key: 'queue', type: 'string', arg: 'NAME', text: "the queue's name" },
  redis: {
    key: 'redis',
    type: 'string',
    arg: 'URL',
    text: 'the Redis of the queue, redis://host:port/db or rediss:// (TLS), without a password: put one in SLUICE_REDIS_URL or the config file',
  },
  prefix: { key: 'queuePrefix', type: 'string', arg: 'PREFIX', text: 'the key prefix of the queue in Redis (a namespace)' },
  'lock-duration': {
    key: 'lockDurationMs',
    type: 'string',
    arg: 'MS',
    text: "how long a claimed job's lock lasts unless renewed (renewed at half)",
  },
  'stalled-interval': {
    key: 'stalledIntervalMs',
    type: 'string',
    arg: 'MS',
    text: "how often a worker looks for stalled jobs (a dead worker's)",
  },
  'max-stalled': { key: 'maxStalled', type: 'string', arg: 'N', text: 'how many stalls a job survives before it fails for good' },
  'global-concurrency': { key: 'globalConcurrency', type: 'string', arg: 'N', text: 'a queue-wide cap on active jobs over every worker' },
  'global-rate': { key: 'globalRate', type: 'string', arg: 'N/s', text: 'a queue-wide cap on jobs started: N/s, N/m or N/MSms' },
} as const satisfies Record<string, FlagSpec>);

export type QueueFlagName = keyof typeof QUEUE_FLAGS;

/**
 * The flags that say what to do with the journal of `--output` (flags only: no config key, no
 * environment variable, since each answers for one run).
 */
export const JOURNAL_FLAGS = Object.freeze({
  resume: 'continue the journaled run of --output where it stopped (the settled tasks are skipped)',
  restart: "discard --output's journal and the output itself, and start over",
  'retry-failed':
    "after a finished run: run again only --output's failed tasks, replacing their lines (written to a new file, renamed over it at the end)",
  force: 'with --resume or --retry-failed: go on although the input file or the job changed since the journal began',
} as const);

export type JournalFlag = keyof typeof JOURNAL_FLAGS;

/** The flags given, as strings (booleans for `--ordered`, a list for `--io`); validated by `resolveConfig`. */
export type FlagValues = {
  readonly [F in FlagName]?: (typeof RUN_FLAGS)[F] extends { readonly type: 'boolean' }
    ? boolean
    : (typeof RUN_FLAGS)[F] extends { readonly multiple: true }
      ? readonly string[]
      : string;
};

/** The queue flags given, as strings. */
export type QueueFlagValues = { readonly [F in QueueFlagName]?: string };

export interface ParsedRunArgs {
  readonly positionals: string[];
  readonly flags: FlagValues;
  /** `--resume`, `--restart`, `--retry-failed`, `--force`: true when given. */
  readonly journal: Readonly<Record<JournalFlag, boolean>>;
  readonly help: boolean;
}

/** Parses the arguments of `sluice run` / `sluice config`; throws `SluiceUsageError` for an unknown flag or a missing value. */
export function parseRunArgs(argv: readonly string[]): ParsedRunArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, spec] of Object.entries(RUN_FLAGS) as Array<[FlagName, FlagSpec]>) {
    options[name] = spec.multiple === true ? { type: spec.type, multiple: true } : { type: spec.type };
  }
  for (const name of Object.keys(JOURNAL_FLAGS)) options[name] = { type: 'boolean' };
  let parsed: { values: Record<string, string | boolean | Array<string | boolean> | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true, allowNegative: true });
  } catch (error) {
    throw usageError(error);
  }
  const flags: Record<string, unknown> = {};
  for (const name of Object.keys(RUN_FLAGS)) {
    const value = parsed.values[name];
    if (value !== undefined) flags[name] = value;
  }
  const journal = { resume: false, restart: false, 'retry-failed': false, force: false };
  for (const name of Object.keys(JOURNAL_FLAGS) as JournalFlag[]) journal[name] = parsed.values[name] === true;
  return { positionals: parsed.positionals, flags: flags as FlagValues, journal, help: parsed.values.help === true };
}

/** The flag layer; relative paths in it are resolved against `cwd`. */
export function flagLayer(flags: FlagValues & QueueFlagValues, cwd: string): Layer {
  const settings: RawSetting[] = [];
  for (const [name, spec] of Object.entries({ ...RUN_FLAGS, ...QUEUE_FLAGS }) as Array<[FlagName | QueueFlagName, FlagSpec]>) {
    const value = flags[name];
    if (spec.key === null || value === undefined) continue;
    const source = { kind: 'flag', name: `--${name}` } as const;
    for (const raw of Array.isArray(value) ? value : [value]) settings.push({ key: spec.key, raw, source });
  }
  return layerFromStrings(settings, cwd);
}

/** Help lines: every flag with its argument, what it does, its default and its environment variable. */
export function runFlagsHelp(): string[] {
  const rows: Array<[string, string]> = [];
  for (const [name, spec] of Object.entries(RUN_FLAGS) as Array<[FlagName, FlagSpec]>) {
    const flag = spec.type === 'boolean' ? `--[no-]${name}` : `--${name} ${spec.arg ?? 'VALUE'}`;
    const dflt = spec.key === null ? `${CONFIG_FILE_NAME} if present` : defaultText(spec.key);
    const env = spec.key === null ? CONFIG_ENV : ENV_VARS[spec.key];
    rows.push([flag, `${spec.text} (default: ${dflt}; env ${env})`]);
  }
  for (const [name, text] of Object.entries(JOURNAL_FLAGS)) rows.push([`--${name}`, `${text} (flag only)`]);
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`), '', ...ioAlgorithmsHelp()];
}

/** Help lines: each algorithm `--io` may name, with the parameters it takes and their defaults. */
export function ioAlgorithmsHelp(): string[] {
  const rows = IO_ALGORITHMS.map((algorithm): [string, string] => {
    const defaults = algorithmDefaults(algorithm);
    const parameters = ioParameters(algorithm)
      .map((p) => `${p}=${String(defaults[p])}`)
      .join(' ');
    return [algorithm, algorithm === 'adaptive' ? `${ADAPTIVE_DEFAULT}, the bounds only: ${parameters}` : parameters];
  });
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [
    '--io algorithms and their parameters (defaults shown; e.g. --io docs=vegas:alpha=2:max=64):',
    ...rows.map(([name, text]) => `  ${name.padEnd(width)}${text}`),
  ];
}

/** parseArgs' errors as a `SluiceUsageError` naming the flag; anything else passes through. */
export function usageError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return error;
  const message = (error as Error).message;
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
  let text: string;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') text = `unknown flag ${flag}`;
  else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /does not take an argument/.test(message)) {
    text = `flag ${flag} takes no value`;
  } else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') text = `flag ${flag} needs a value`;
  else text = message;
  return new SluiceUsageError(text, { cause: error });
}
