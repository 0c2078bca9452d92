/**
 * The config file layer: which file (`--config`, else SLUICE_CONFIG, else sluice.config.json in
 * the cwd if it exists) and reading it. A file someone named must exist and hold a JSON object.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SluiceConfigError, type ConfigSource } from '../errors.js';
import { CONFIG_ENV, envValue, type Env } from './env.js';
import type { Layer } from './layer.js';

/** The config file read from the cwd when neither `--config` nor SLUICE_CONFIG names one. */
export const CONFIG_FILE_NAME = 'sluice.config.json';

export interface ConfigFileChoice {
  /** Absolute path of the file. */
  readonly path: string;
  /** The flag or variable that named the file; absent for the implicit sluice.config.json. */
  readonly namedBy?: ConfigSource;
}

/** Picks the config file; throws when `--config` is given an empty path. */
export function chooseConfigFile(flag: string | undefined, env: Env, cwd: string): ConfigFileChoice {
  if (flag !== undefined) {
    const namedBy: ConfigSource = { kind: 'flag', name: '--config' };
    if (flag.length === 0) throw new SluiceConfigError('config', namedBy, 'a non-empty file path', flag);
    return { path: resolve(cwd, flag), namedBy };
  }
  const fromEnv = envValue(env, CONFIG_ENV);
  if (fromEnv !== undefined) return { path: resolve(cwd, fromEnv), namedBy: { kind: 'env', name: CONFIG_ENV } };
  return { path: resolve(cwd, CONFIG_FILE_NAME) };
}

/**
 * Reads the chosen file as a layer (not yet validated); undefined when the implicit file does not
 * exist. Throws `SluiceConfigError` (key `config`) for a named file that is missing, any file
 * that cannot be read, or one that is not a JSON object.
 */
export async function readConfigFile(choice: ConfigFileChoice): Promise<Layer | undefined> {
  const source: ConfigSource = { kind: 'file', path: choice.path };
  let text: string;
  try {
    text = await readFile(choice.path, 'utf8');
  } catch (error) {
    if (choice.namedBy === undefined && (error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw withCause(new SluiceConfigError('config', choice.namedBy ?? source, 'an existing, readable JSON file', choice.path), error);
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? ` (${error.message})` : '';
    throw withCause(new SluiceConfigError('config', source, `valid JSON${reason}`, text), error);
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    throw new SluiceConfigError('config', source, 'a JSON object of config keys', values);
  }
  return { values: values as Record<string, unknown>, sources: {}, source, received: {}, baseDir: dirname(choice.path) };
}

function withCause<E extends Error>(error: E, cause: unknown): E {
  error.cause = cause;
  return error;
}
