/**
 * One service's io setting in its string form (a flag or SLUICE_IO) and back, and applied to the
 * service's options:
 *
 *   8                        a fixed limit
 *   adaptive | vegas | ...   an algorithm with its default parameters
 *   vegas:alpha=2:max=64     an algorithm with parameters, each PARAM=VALUE after a colon
 *
 * A colon never occurs in the other forms, and the comma stays the separator of the list
 * (`docs=vegas:alpha=2:max=64,store=8`), so every form reads one way.
 */
import { ADAPTIVE_DEFAULT, createLimit, type LimitBounds, type ServiceOptions } from '../../index.js';
import { SluiceConfigError, type ConfigSource } from '../errors.js';
import type { IoSetting } from './schema.js';

/** The expected form of an io setting with parameters, from the environment or a flag. */
export const IO_PARAMETERS_EXPECTED = 'ALGORITHM:PARAM=VALUE[:PARAM=VALUE...], each parameter once (e.g. vegas:alpha=2:max=64)';

export interface ParsedIoSetting {
  /** The value to validate: a string or number, or `{ limit, ...parameters }`. */
  readonly value: unknown;
  /** The text of each part, by its key below the service (`''` the setting, `alpha` a parameter). */
  readonly received: Readonly<Record<string, string>>;
}

/**
 * Reads the string form of `service`'s setting; numbers are coerced, nothing else is validated.
 * Throws `SluiceConfigError` (key `io.SERVICE`) for a parameter that is not PARAM=VALUE.
 */
export function parseIoSetting(service: string, text: string, source: ConfigSource): ParsedIoSetting {
  const [head = '', ...parts] = text.split(':');
  if (parts.length === 0) return { value: integer(text), received: { '': text } };
  const value: Record<string, unknown> = { limit: integer(head.trim()) };
  const received: Record<string, string> = { '': text, limit: head.trim() };
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? '' : part.slice(0, eq).trim();
    if (name.length === 0 || name === 'limit' || Object.hasOwn(value, name)) {
      throw new SluiceConfigError(`io.${service}`, source, IO_PARAMETERS_EXPECTED, text);
    }
    const raw = part.slice(eq + 1).trim();
    value[name] = number(raw);
    received[name] = raw;
  }
  return { value, received };
}

/** A setting in its string form: `8`, `vegas`, `vegas:alpha=2:max=64`. */
export function formatIoSetting(setting: IoSetting): string {
  if (typeof setting !== 'object') return String(setting);
  const { limit, ...parameters } = setting;
  return [limit, ...Object.entries(parameters).map(([k, v]) => `${k}=${String(v)}`)].join(':');
}

/** The parameters of a setting with parameters (without `limit`); none for the other forms. */
export function ioSettingParameters(setting: IoSetting | undefined): Readonly<Record<string, number>> {
  if (setting === undefined || typeof setting !== 'object') return {};
  const { limit: _limit, ...parameters } = setting;
  return parameters as Record<string, number>;
}

/**
 * A service's options with its io setting applied: a number is a fixed limit (the bounds dropped),
 * a name replaces the algorithm (the job's bounds kept), and a name with parameters becomes that
 * algorithm built with them (over the job's bounds, which it may override).
 */
export function withIoSetting(options: ServiceOptions, setting: IoSetting): ServiceOptions {
  const { initial, min, max, ...rest } = options;
  if (typeof setting === 'number') return { ...rest, limit: setting };
  if (typeof setting === 'string') return { ...options, limit: setting === 'adaptive' ? ADAPTIVE_DEFAULT : setting };
  const bounds: LimitBounds = {
    ...(initial !== undefined ? { initial } : {}),
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
  };
  const algorithm = setting.limit === 'adaptive' ? undefined : setting.limit;
  return { ...rest, limit: createLimit(algorithm, { ...bounds, ...ioSettingParameters(setting) }) };
}

function integer(text: string): unknown {
  const trimmed = text.trim();
  return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : text;
}

function number(text: string): unknown {
  return /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : text;
}
