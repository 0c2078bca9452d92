/**
 * The lines `sluice config` prints: the config file, then each key, its value and its source; with
 * a job, then what the job declares with the settings applied (its services and stages).
 */
import { fileURLToPath } from 'node:url';
import {
  ADAPTIVE_DEFAULT,
  AlgorithmLimit,
  DEFAULTS,
  redact,
  SERVICE_DEFAULTS,
  type CpuStage,
  type IoStage,
  type Limit,
  type ServiceOptions,
  type Stage,
} from '../../index.js';
import { formatSource, type ConfigSource } from '../errors.js';
import type { BuildSettings, BuiltJob } from '../job/build.js';
import type { ResolvedConfig } from './resolve.js';
import { formatIoSetting, ioSettingParameters } from './io-setting.js';
import { defaultText, isConfigKey, type IoLimitSetting, type IoSetting } from './schema.js';

/**
 * One line per key, in columns (passwords in Redis URLs as `***`): `threads       2        (flag --threads)`,
 * `io.docs       adaptive (vegas)  (env SLUICE_IO)`; an unset key shows `unset` and what that means.
 */
export function formatConfig(resolved: ResolvedConfig): string[] {
  const rows: Array<[string, string, string]> = [];
  for (const [key, source] of Object.entries(resolved.sources)) {
    const value = settingOf(resolved, key);
    if (value === undefined && isConfigKey(key)) rows.push([key, 'unset', `(${formatSource(source)}: ${defaultText(key)})`]);
    // A Redis URL's password never shows (the queue commands' `redis`, from the file or SLUICE_REDIS_URL).
    else rows.push([key, redact(render(value)), `(${formatSource(source)})`]);
  }
  return [`config file: ${resolved.file ?? 'none'}`, ...columns(rows)];
}

export interface JobDescription {
  /** The job's name, or its file. */
  readonly name: string;
  /** The job module as the command line named it. */
  readonly file: string;
  /** The services as the job declares them, before the settings. */
  readonly declaredServices: Readonly<Record<string, ServiceOptions>>;
  readonly built: BuiltJob;
  readonly settings: BuildSettings;
  readonly sources: Readonly<Record<string, ConfigSource>>;
}

type From = (key: string) => string;

/**
 * What the job declares, after the settings, one line per service and per stage, each value with
 * where it came from (`job`, `default`, or the config's source):
 * `service docs      limit vegas, now 8 (job: initial 8, max 64; default: min 1, ...); timeout 5000 ms (flag --timeout)`,
 * `stage fetch   io  capacity follows service docs (now 8)`,
 * `stage parse   cpu capacity 2 threads (flag --threads); worker /app/parse.worker.ts`.
 */
export function formatJob(described: JobDescription): string[] {
  const { built, settings, sources } = described;
  const from: From = (key) => formatSource(sources[key] ?? { kind: 'default' });
  const rows: Array<[string, string, string]> = [];
  for (const [name, options] of Object.entries(built.serviceOptions)) {
    const own = described.declaredServices[name];
    const limit = limitText(own ?? {}, settings.io[name], built.services[name]?.limit, () => from(`io.${name}`));
    rows.push([
      `service ${name}`,
      '',
      `limit ${limit}; timeout ${timeoutText(options.timeoutMs, own?.timeoutMs, SERVICE_DEFAULTS.timeoutMs, from)}`,
    ]);
  }
  built.stages.forEach((stage, i) => {
    const declared = built.declared[i];
    if (stage.kind === 'io') rows.push([`stage ${stage.name}`, 'io', ioText(stage, declared, settings, from)]);
    else rows.push([`stage ${stage.name}`, 'cpu', cpuText(stage, declared, settings, from)]);
  });
  return [`job: ${described.name} (${described.file})`, ...columns(rows)];
}

/**
 * A service's limit and where it came from. A fixed one: `fixed 16 (flag --io)`. An algorithm: its
 * name, its limit now, and every parameter it runs with, grouped by source:
 * `vegas, now 4 (flag --io: alpha 2, max 64; job: initial 8; default: min 1, smoothing 0.2, ...)`.
 */
function limitText(own: ServiceOptions, setting: IoSetting | undefined, limit: Limit | undefined, settingFrom: () => string): string {
  const spec = setting ?? own.limit;
  const specFrom = setting !== undefined ? settingFrom() : own.limit === undefined ? 'default' : 'job';
  if (typeof spec === 'number') return `fixed ${spec} (${specFrom})`;
  const now = limit === undefined ? '' : `, now ${limit.current}`;
  if (!(limit instanceof AlgorithmLimit) || (typeof spec === 'object' && !isIoLimitSetting(spec))) {
    const parameters =
      limit instanceof AlgorithmLimit
        ? `: ${Object.entries(limit.parameters)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ')}`
        : '';
    return `a custom Limit${now} (${specFrom}${parameters})`;
  }
  const named = typeof spec === 'object' ? spec.limit : (spec ?? ADAPTIVE_DEFAULT);
  const name = named === 'adaptive' ? `adaptive (${ADAPTIVE_DEFAULT})` : named;
  const fromSetting = ioSettingParameters(setting);
  // The job's bounds count unless a fixed setting replaced them or a setting with parameters overrode them.
  const fromJob = (['initial', 'min', 'max'] as const).filter((k) => own[k] !== undefined && !Object.hasOwn(fromSetting, k));
  const groups = new Map<string, string[]>();
  for (const [key, value] of Object.entries(limit.parameters)) {
    const source = Object.hasOwn(fromSetting, key) ? settingFrom() : (fromJob as readonly string[]).includes(key) ? 'job' : 'default';
    groups.set(source, [...(groups.get(source) ?? []), `${key} ${String(value)}`]);
  }
  const parts = [specFrom, 'job', 'default']
    .filter((source, i, all) => all.indexOf(source) === i)
    .map((source) => (groups.has(source) ? `${source}: ${groups.get(source)!.join(', ')}` : source === specFrom ? source : ''))
    .filter((part) => part !== '');
  return `${name}${now} (${parts.join('; ')})`;
}

/** A timeout and where it came from: the job's own, else the `timeoutMs` setting, else the default. */
function timeoutText(applied: unknown, own: unknown, fallback: number, from: From): string {
  if (typeof applied !== 'number') return `${ms(fallback)} (default)`;
  return `${ms(applied)} (${own === undefined ? from('timeoutMs') : 'job'})`;
}

function ioText(stage: IoStage, declared: Stage | undefined, settings: BuildSettings, from: From): string {
  if (stage.service !== undefined) return `capacity follows service ${stage.service.name} (now ${stage.service.limit.current})`;
  const concurrencyFrom = typeof settings.io[stage.name] === 'number' ? from(`io.${stage.name}`) : 'job';
  const own = declared?.kind === 'io' ? declared.timeoutMs : undefined;
  return `capacity ${String(stage.concurrency)} (${concurrencyFrom}); timeout ${timeoutText(stage.timeoutMs, own, DEFAULTS.ioTimeoutMs, from)}`;
}

function cpuText(stage: CpuStage, declared: Stage | undefined, settings: BuildSettings, from: From): string {
  let threads: string;
  if (settings.threads !== undefined) threads = `${plural(settings.threads, 'thread')} (${from('threads')})`;
  else if (declared?.kind === 'cpu' && declared.threads !== undefined) threads = `${plural(declared.threads, 'thread')} (job)`;
  else threads = `${plural(DEFAULTS.threads(), 'thread')} (default: os.availableParallelism())`;
  const file = stage.file instanceof URL || stage.file.startsWith('file:') ? fileURLToPath(stage.file) : stage.file;
  return `capacity ${threads}; worker ${file}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function ms(value: number): string {
  return value === 0 ? 'none' : `${value} ms`;
}

/** Rows of three cells, padded into columns; a column of empty cells takes no room. */
function columns(rows: ReadonlyArray<readonly [string, string, string]>): string[] {
  const widths = [0, 1].map((i) => {
    const widest = Math.max(0, ...rows.map((row) => row[i]!.length));
    return widest === 0 ? 0 : widest + 2;
  });
  return rows.map(([a, b, c]) => `${a.padEnd(widths[0]!)}${b.padEnd(widths[1]!)}${c}`);
}

function settingOf(resolved: ResolvedConfig, key: string): unknown {
  const config = resolved.config as Readonly<Record<string, unknown>>;
  if (key === 'io') return Object.keys(resolved.config.io).length === 0 ? undefined : resolved.config.io;
  if (key.startsWith('io.')) return resolved.config.io[key.slice(3)];
  return config[key];
}

function isIoLimitSetting(value: object): value is IoLimitSetting {
  return 'limit' in value && typeof value.limit === 'string';
}

function render(value: unknown): string {
  if (value === 'adaptive') return `adaptive (${ADAPTIVE_DEFAULT})`;
  if (value !== null && typeof value === 'object' && 'limit' in value) return formatIoSetting(value as IoSetting);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
