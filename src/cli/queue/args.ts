/**
 * What the queue commands (`enqueue`, `worker`, `status --queue`, `results`, `queue`) share: their
 * arguments (some of `sluice run`'s flags, the queue flags, and booleans of their own), the queue
 * they name (from the layered config: the Redis URL from the file or SLUICE_REDIS_URL, never a
 * password on the command line), and the fingerprint of a job module.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { redact, SluiceError, type Job, type QueueJobIdentity, type QueueTarget } from '../../index.js';
import { ENV_VARS, CONFIG_ENV } from '../config/env.js';
import { CONFIG_FILE_NAME } from '../config/file.js';
import {
  QUEUE_FLAGS,
  RUN_FLAGS,
  type FlagName,
  type FlagValues,
  type QueueFlagName,
  type QueueFlagValues,
  usageError,
} from '../config/flags.js';
import { defaultText, type SluiceConfig } from '../config/schema.js';
import { SluiceUsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { usageFailure } from '../run/usage.js';

/** Where the queue commands look for Redis when nothing says. */
export const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

export interface QueueCommandSpec {
  /** Flags of `sluice run` the command takes (they set config keys). */
  readonly runFlags: readonly FlagName[];
  /** Queue flags the command takes. */
  readonly queueFlags: readonly QueueFlagName[];
  /** The command's own boolean flags, with their help text. */
  readonly booleans?: Readonly<Record<string, string>>;
  /** Help text of a run flag that means something else to this command (the worker's `--lanes`), instead of run's. */
  readonly helpText?: Readonly<Partial<Record<FlagName, string>>>;
}

export interface ParsedQueueArgs {
  readonly positionals: string[];
  readonly flags: FlagValues & QueueFlagValues;
  /** The command's own booleans: true when given. */
  readonly booleans: Readonly<Record<string, boolean>>;
  readonly help: boolean;
}

/** Parses a queue command's arguments; throws SluiceUsageError for an unknown flag, a missing value, or a password in --redis. */
export function parseQueueArgs(argv: readonly string[], spec: QueueCommandSpec): ParsedQueueArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const name of spec.runFlags) {
    const flag = RUN_FLAGS[name] as { type: 'string' | 'boolean'; multiple?: boolean };
    options[name] = flag.multiple === true ? { type: flag.type, multiple: true } : { type: flag.type };
  }
  for (const name of spec.queueFlags) options[name] = { type: 'string' };
  for (const name of Object.keys(spec.booleans ?? {})) options[name] = { type: 'boolean' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true, allowNegative: true });
  } catch (error) {
    throw usageError(error);
  }
  const flags: Record<string, unknown> = {};
  for (const name of [...spec.runFlags, ...spec.queueFlags]) {
    const value = parsed.values[name];
    if (value !== undefined) flags[name] = value;
  }
  const redis = flags.redis;
  if (typeof redis === 'string' && hasPassword(redis)) {
    throw new SluiceUsageError(
      `--redis ${redact(redis)}: a password on the command line is visible to every user of the machine (ps, shell history); ` +
        `give the URL with its password in ${ENV_VARS.redis} or the config file's "redis" instead`,
    );
  }
  const booleans: Record<string, boolean> = {};
  for (const name of Object.keys(spec.booleans ?? {})) booleans[name] = parsed.values[name] === true;
  return { positionals: parsed.positionals, flags: flags as FlagValues & QueueFlagValues, booleans, help: parsed.values.help === true };
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return /:[^@/]*@/.test(url);
  }
}

/** The queue the config names; throws SluiceUsageError when it names none. */
export function queueTarget(config: SluiceConfig): QueueTarget {
  if (config.queue === undefined) {
    throw new SluiceUsageError(`no queue named: give --queue NAME (or ${ENV_VARS.queue}, or "queue" in the config file)`);
  }
  return { connection: config.redis ?? DEFAULT_REDIS, queue: config.queue, prefix: config.queuePrefix };
}

/** Who a queue's tasks are for: the job's name (else its file's name, as a journal says) and its module's fingerprint. */
export async function queueJobIdentity(job: Job, jobPath: string): Promise<QueueJobIdentity> {
  return { name: job.name ?? basename(jobPath), module: await moduleFingerprint(jobPath) };
}

/** The fingerprint of a job module: the SHA-256 (hex) of its file, what the queue compares. */
export async function moduleFingerprint(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Help lines of a command's flags, with their defaults and environment variables. */
export function queueFlagsHelp(spec: QueueCommandSpec): string[] {
  const rows: Array<[string, string]> = [];
  const all = { ...RUN_FLAGS, ...QUEUE_FLAGS } as Record<
    string,
    { key: keyof SluiceConfig | null; type: string; arg?: string; text: string }
  >;
  for (const name of [...spec.runFlags, ...spec.queueFlags]) {
    const flag = all[name]!;
    const shown = flag.type === 'boolean' ? `--[no-]${name}` : `--${name} ${flag.arg ?? 'VALUE'}`;
    const dflt = flag.key === null ? `${CONFIG_FILE_NAME} if present` : defaultText(flag.key);
    const env = flag.key === null ? CONFIG_ENV : ENV_VARS[flag.key];
    const text = spec.helpText?.[name as FlagName] ?? flag.text;
    rows.push([shown, `${text} (default: ${dflt}; env ${env})`]);
  }
  for (const [name, text] of Object.entries(spec.booleans ?? {})) rows.push([`--${name}`, text]);
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`);
}

/** The password of a Redis URL, if it has one; undefined for no URL or one that does not parse. */
export function passwordOfUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}

/**
 * `io` whose `out` and `err` hide the passwords of `secrets` (the Redis URLs of the environment and
 * the config) and of any redis:// URL in the text: whatever a queue command prints, a password
 * never shows, whichever layer it came from.
 */
export function redactingIo(io: CliIo, urls: readonly (string | undefined)[]): CliIo {
  const secrets = urls.map(passwordOfUrl);
  return {
    ...io,
    out: (lines) => io.out(redact(lines, secrets)),
    err: (line) => io.err(redact(line, secrets)),
  };
}

/**
 * A refusal of a queue command (a usage, config, job or queue error: every `SluiceError`) as one
 * line on stderr and a hint: exit 2. Anything else is a bug and is thrown again.
 */
export function queueFailure(io: Pick<CliIo, 'err'>, command: string, error: unknown, usage?: string): number {
  if (error instanceof SluiceError) return usageFailure(io, command, error.message, usage);
  throw error;
}
