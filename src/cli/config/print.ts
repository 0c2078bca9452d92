/** The lines `sluice config` prints: the config file, then each key, its value and its source. */
import { ADAPTIVE_DEFAULT, formatSource } from '../../index.js';
import type { ResolvedConfig } from './resolve.js';
import { defaultText, isConfigKey } from './schema.js';

/**
 * One line per key, in columns: `threads       2        (flag --threads)`,
 * `io.docs       adaptive (vegas)  (env SLUICE_IO)`; an unset key shows `unset` and what that means.
 */
export function formatConfig(resolved: ResolvedConfig): string[] {
  const rows: Array<[string, string, string]> = [];
  for (const [key, source] of Object.entries(resolved.sources)) {
    const value = valueOf(resolved, key);
    if (value === undefined && isConfigKey(key)) rows.push([key, 'unset', `(${formatSource(source)}: ${defaultText(key)})`]);
    else rows.push([key, render(value), `(${formatSource(source)})`]);
  }
  const keyWidth = Math.max(...rows.map(([key]) => key.length)) + 2;
  const valueWidth = Math.max(...rows.map(([, value]) => value.length)) + 2;
  return [
    `config file: ${resolved.file ?? 'none'}`,
    ...rows.map(([key, value, source]) => `${key.padEnd(keyWidth)}${value.padEnd(valueWidth)}${source}`),
  ];
}

function valueOf(resolved: ResolvedConfig, key: string): unknown {
  const config = resolved.config as Readonly<Record<string, unknown>>;
  if (key === 'io') return Object.keys(resolved.config.io).length === 0 ? undefined : resolved.config.io;
  if (key.startsWith('io.')) return resolved.config.io[key.slice(3)];
  return config[key];
}

function render(value: unknown): string {
  if (value === 'adaptive') return `adaptive (${ADAPTIVE_DEFAULT})`;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
