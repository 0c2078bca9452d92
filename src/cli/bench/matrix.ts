/**
 * The settings matrix of `sluice bench`: `--threads 1,2` and `--io docs=8,16,adaptive,store=2,4`
 * (a token with `=` starts a service, a bare token adds a value to the last one). Every
 * combination is one setting. Values are checked here so a typo fails before any run starts.
 */
import { SluiceConfigError, type ConfigSource } from '../errors.js';
import { IO_ALGORITHMS, type IoSetting } from '../config/schema.js';

export interface Setting {
  /** Threads of every cpu stage; undefined keeps the job's (or the config's). */
  readonly threads?: number;
  /** Per service (or io stage): its limit. */
  readonly io: Readonly<Record<string, IoSetting>>;
}

export function parseThreads(values: readonly string[]): number[] {
  const out: number[] = [];
  for (const value of values) {
    for (const token of value.split(',')) {
      const n = Number(token.trim());
      if (!Number.isInteger(n) || n < 1) throw bad('threads', '--threads', 'a comma list of positive integers, e.g. 1,2,4', token);
      out.push(n);
    }
  }
  return [...new Set(out)];
}

export function parseIoMatrix(values: readonly string[]): Map<string, IoSetting[]> {
  const matrix = new Map<string, IoSetting[]>();
  for (const value of values) {
    let current: string | undefined;
    for (const raw of value.split(',')) {
      const token = raw.trim();
      let setting = token;
      const eq = token.indexOf('=');
      if (eq >= 0) {
        current = token.slice(0, eq).trim();
        setting = token.slice(eq + 1).trim();
        if (current.length === 0) throw bad('io', '--io', 'SERVICE=VALUE[,VALUE...], e.g. docs=8,16,adaptive', token);
      }
      if (current === undefined) throw bad('io', '--io', 'SERVICE=VALUE[,VALUE...], e.g. docs=8,16,adaptive', token);
      const list = matrix.get(current) ?? [];
      list.push(parseIoSetting(current, setting));
      matrix.set(current, list);
    }
  }
  return matrix;
}

function parseIoSetting(service: string, token: string): IoSetting {
  if ((IO_ALGORITHMS as readonly string[]).includes(token)) return token as IoSetting;
  const n = Number(token);
  if (token !== '' && Number.isInteger(n) && n >= 1) return n;
  throw bad(`io.${service}`, '--io', `a positive integer or one of ${IO_ALGORITHMS.join(', ')}`, token);
}

/** Every combination of the threads and io values; one setting with nothing when both are empty. */
export function settingsOf(threads: readonly number[], io: ReadonlyMap<string, readonly IoSetting[]>): Setting[] {
  let settings: Setting[] = threads.length > 0 ? threads.map((t) => ({ threads: t, io: {} })) : [{ io: {} }];
  for (const [name, values] of io) {
    const next: Setting[] = [];
    for (const s of settings) for (const v of [...new Set(values)]) next.push({ ...s, io: { ...s.io, [name]: v } });
    settings = next;
  }
  return settings;
}

/** A setting as a short label and as `sluice run` flags. */
export function labelOf(setting: Setting): string {
  const parts = setting.threads !== undefined ? [`threads=${setting.threads}`] : [];
  for (const [name, v] of Object.entries(setting.io)) parts.push(`${name}=${v}`);
  return parts.length > 0 ? parts.join(' ') : 'job defaults';
}

export function flagsOf(setting: Setting): string[] {
  const flags = setting.threads !== undefined ? ['--threads', String(setting.threads)] : [];
  for (const [name, v] of Object.entries(setting.io)) flags.push('--io', `${name}=${v}`);
  return flags;
}

function bad(key: string, flag: string, expected: string, received: string): SluiceConfigError {
  const source: ConfigSource = { kind: 'flag', name: flag };
  return new SluiceConfigError(key, source, expected, received);
}
