/**
 * Resolving the CLI config: defaults < config file < SLUICE_* environment < flags, each layer
 * validated on its own (so an error names the file, variable or flag), then merged key by key;
 * `io` merges per service.
 */
import { isAbsolute, resolve } from 'node:path';
import type { ConfigSource } from '../errors.js';
import { envLayer, type Env } from './env.js';
import { chooseConfigFile, readConfigFile } from './file.js';
import { flagLayer, type FlagValues, type QueueFlagValues } from './flags.js';
import { sourceOf, validateLayer, type Layer } from './layer.js';
import { CONFIG_KEYS, configSchema, type ConfigKey, type IoSetting, type SluiceConfig } from './schema.js';

export interface ResolvedConfig {
  /** The validated config; frozen. */
  readonly config: SluiceConfig;
  /**
   * Where each value came from, by dotted key: every top-level key (`threads`, ...) except `io`,
   * which is listed per service (`io.docs`); `io` itself only when no service is set.
   */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** Absolute path of the config file read, if one was. */
  readonly file?: string;
}

export interface ResolveConfigInput {
  readonly flags: FlagValues & QueueFlagValues;
  readonly env: Env;
  /** The directory relative paths from flags and the environment are resolved against. */
  readonly cwd: string;
}

const DEFAULT_SOURCE: ConfigSource = Object.freeze({ kind: 'default' });

/** Resolves the config of a run; throws `SluiceConfigError` naming the key, source, expected and received value. */
export async function resolveConfig(input: ResolveConfigInput): Promise<ResolvedConfig> {
  const { flags, env, cwd } = input;
  const choice = chooseConfigFile(flags.config, env, cwd);
  const file = await readConfigFile(choice);
  const layers: Layer[] = [...(file === undefined ? [] : [file]), envLayer(env, cwd), flagLayer(flags, cwd)];

  const merged: Record<string, unknown> = {};
  const io: Record<string, IoSetting> = {};
  const found: Record<string, ConfigSource> = {};
  for (const layer of layers) {
    const values = validateLayer(layer);
    for (const [key, value] of Object.entries(values) as Array<[ConfigKey, unknown]>) {
      if (value === undefined) continue;
      if (key === 'io') {
        for (const [service, setting] of Object.entries(value as Record<string, IoSetting>)) {
          io[service] = setting;
          found[`io.${service}`] = sourceOf(layer, `io.${service}`);
        }
        continue;
      }
      merged[key] = CONFIG_KEYS[key].kind === 'path' ? resolvePath(value as string, layer.baseDir) : value;
      found[key] = sourceOf(layer, key);
    }
  }

  const config = configSchema.parse({ ...merged, io });
  Object.freeze(config.io);
  const sources: Record<string, ConfigSource> = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    if (key !== 'io') {
      sources[key] = found[key] ?? DEFAULT_SOURCE;
      continue;
    }
    const services = Object.keys(config.io).sort();
    if (services.length === 0) sources.io = DEFAULT_SOURCE;
    for (const service of services) sources[`io.${service}`] = found[`io.${service}`] ?? DEFAULT_SOURCE;
  }
  return {
    config: Object.freeze(config),
    sources: Object.freeze(sources),
    ...(file === undefined ? {} : { file: choice.path }),
  };
}

/** `-` (stdout) stays as it is; other paths become absolute, relative to the layer's directory. */
function resolvePath(path: string, baseDir: string): string {
  if (path === '-' || isAbsolute(path)) return path;
  return resolve(baseDir, path);
}
