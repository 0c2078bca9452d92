/**
 * The SLUICE_* environment layer. Values are strings, coerced to numbers and booleans before
 * validation. An empty variable counts as unset; SLUICE_* variables not listed here are ignored,
 * since other tools may set their own.
 */
import type { ConfigSource } from '../errors.js';
import { layerFromStrings, type Layer, type RawSetting } from './layer.js';
import type { ConfigKey } from './schema.js';

/** The environment variable of each config key. */
export const ENV_VARS: Readonly<Record<ConfigKey, string>> = Object.freeze({
  input: 'SLUICE_INPUT',
  inputFormat: 'SLUICE_INPUT_FORMAT',
  output: 'SLUICE_OUTPUT',
  threads: 'SLUICE_THREADS',
  io: 'SLUICE_IO',
  buffer: 'SLUICE_BUFFER',
  ordered: 'SLUICE_ORDERED',
  limit: 'SLUICE_LIMIT',
  log: 'SLUICE_LOG',
  logIntervalMs: 'SLUICE_LOG_INTERVAL',
  lanes: 'SLUICE_LANES',
  metricsPort: 'SLUICE_METRICS_PORT',
  timeoutMs: 'SLUICE_TIMEOUT',
  durable: 'SLUICE_DURABLE',
  redis: 'SLUICE_REDIS_URL',
  queue: 'SLUICE_QUEUE',
  queuePrefix: 'SLUICE_QUEUE_PREFIX',
  lockDurationMs: 'SLUICE_LOCK_DURATION',
  stalledIntervalMs: 'SLUICE_STALLED_INTERVAL',
  maxStalled: 'SLUICE_MAX_STALLED',
  globalConcurrency: 'SLUICE_GLOBAL_CONCURRENCY',
  globalRate: 'SLUICE_GLOBAL_RATE',
});

/** The variable naming the config file (when no `--config` flag does). */
export const CONFIG_ENV = 'SLUICE_CONFIG';

export type Env = Readonly<Record<string, string | undefined>>;

/** The value of a variable, or undefined when it is unset or empty. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The environment layer; relative paths in it are resolved against `cwd`. */
export function envLayer(env: Env, cwd: string): Layer {
  const settings: RawSetting[] = [];
  for (const [key, name] of Object.entries(ENV_VARS) as Array<[ConfigKey, string]>) {
    const raw = envValue(env, name);
    if (raw === undefined) continue;
    const source: ConfigSource = { kind: 'env', name };
    settings.push({ key, raw, source });
  }
  return layerFromStrings(settings, cwd);
}
