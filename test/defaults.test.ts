/**
 * The documented defaults agree with the code's: every default in the README's options tables
 * (executor, io and cpu stages, services, limit algorithms, windows, CLI flags) and every JSDoc
 * `@default` of the option types is compared with the runtime value it documents (`DEFAULTS`,
 * `SERVICE_DEFAULTS`, `BOUND_DEFAULTS`, the algorithms' defaults, `WINDOW_DEFAULTS`,
 * `CONFIG_DEFAULTS`), so changing either side without the other fails here.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ADAPTIVE_DEFAULT,
  AIMD_DEFAULTS,
  BOUND_DEFAULTS,
  DEFAULTS,
  GRADIENT2_DEFAULTS,
  LIMIT_ALGORITHMS,
  SERVICE_DEFAULTS,
  VEGAS_DEFAULTS,
  WINDOW_DEFAULTS,
} from '../src/index.js';
import { CONFIG_DEFAULTS, ENV_VARS, RUN_FLAGS } from '../src/cli/config/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const source = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

/** The README's table whose first header cell is `first`: each row's cells, backticks kept. */
function table(first: string): string[][] {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  if (start < 0) throw new Error(`README has no table headed "${first}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    // Split on the pipes that separate cells (not the escaped \| inside one).
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** The names in a first cell: `` `initial`, `min`, `max` `` is three. */
function names(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** The value a documented default starts with: a literal, or undefined for none. */
function literal(text: string): unknown {
  const t = text.replace(/`/g, '').trim();
  if (/^(none|undefined)\b/.test(t)) return undefined;
  if (t.startsWith('{')) return JSON.parse(t.slice(0, t.indexOf('}') + 1).replace(/(\w+):/g, '"$1":'));
  if (t.startsWith("'")) return t.slice(1, t.indexOf("'", 1));
  const word = /^[^\s,;(]+/.exec(t)?.[0] ?? '';
  if (word === 'true' || word === 'false') return word === 'true';
  if (/^-?(\d[\d_]*(\.\d+)?|Infinity)$/.test(word)) return Number(word.replace(/_/g, ''));
  return Symbol(`not a literal: ${t}`);
}

/** Whether documented `text` states `value`: a function by its formula (`String(fn)`), else as a literal. */
function agrees(text: string, value: unknown): boolean {
  const t = text.replace(/`/g, '').trim();
  if (typeof value === 'function') return t.startsWith(String(value));
  // A word may be written bare, as the CLI's values are (`auto`), or quoted as in TypeScript (`'auto'`).
  if (typeof value === 'string' && /^[\w-]+$/.exec(t)?.[0] === value) return true;
  return isDeepStrictEqual(literal(text), value);
}

/** Checks each documented default against `expected`; documented names must be exactly `known`. */
function check(
  rows: ReadonlyArray<readonly [string, string]>,
  expected: Readonly<Record<string, unknown>>,
  known: readonly string[],
): void {
  expect(rows.map(([name]) => name).sort(), 'documented names').toEqual([...known].sort());
  for (const [name, text] of rows) {
    if (!Object.hasOwn(expected, name)) continue;
    expect(agrees(text, expected[name]), `${name}: documented ${text}, code ${String(expected[name])}`).toBe(true);
  }
}

/** A table's rows as [name, default], a multi-name row (`initial`, `min`, `max` | 4, 1, 200) split. */
function defaults(first: string): Array<[string, string]> {
  return table(first).flatMap(([nameCell = '', dflt = '']) => {
    const list = names(nameCell);
    if (list.length === 1) return [[list[0]!, dflt] as [string, string]];
    const values = dflt.split(',');
    expect(values, nameCell).toHaveLength(list.length);
    return list.map((name, i) => [name, values[i]!] as [string, string]);
  });
}

/**
 * The `@default` of each property in a block of a source file (`interface NAME` or `const NAME`):
 * the text after `@default` on its line, by property name.
 */
function jsdocDefaults(path: string, block: string): Record<string, string> {
  const text = source(path);
  const start = text.search(new RegExp(`(interface|const) ${block}\\b`));
  if (start < 0) throw new Error(`${path} has no ${block}`);
  const body = text.slice(start, text.indexOf('\n}', start));
  const found: Record<string, string> = {};
  let pending: string | undefined;
  for (const line of body.split('\n').slice(1)) {
    const tag = /@default\s+(.*?)\s*(\*\/)?$/.exec(line);
    if (tag) pending = tag[1]!;
    const property = /^\s*(?:readonly\s+)?(\w+)\??:/.exec(line);
    if (property && !line.trim().startsWith('*')) {
      if (pending !== undefined) found[property[1]!] = pending;
      pending = undefined;
    }
  }
  return found;
}

const BOUNDS = ['initial', 'min', 'max'];

describe('README defaults tables agree with the code', () => {
  it('executor options: DEFAULTS', () => {
    check(defaults('option'), { ordered: DEFAULTS.ordered, stopOnError: DEFAULTS.stopOnError }, [
      'stages',
      'buffer',
      'outputBuffer',
      'ordered',
      'window',
      'stopOnError',
    ]);
  });

  it('io and cpu stage options: DEFAULTS', () => {
    check(defaults('io option'), { timeoutMs: DEFAULTS.ioTimeoutMs }, ['concurrency', 'service', 'timeoutMs']);
    const cpu = defaults('cpu option');
    check(
      cpu,
      {
        batch: DEFAULTS.batch,
        exportName: DEFAULTS.exportName,
        transfer: DEFAULTS.transfer,
        resourceLimits: undefined,
        timeoutMs: DEFAULTS.cpuTimeoutMs,
        expose: undefined,
        onProgress: undefined,
      },
      ['threads', 'batch', 'exportName', 'transfer', 'resourceLimits', 'timeoutMs', 'expose', 'onProgress'],
    );
    expect(cpu.find(([name]) => name === 'threads')?.[1]).toBe('`os.availableParallelism()`');
    expect(DEFAULTS.threads()).toBe(availableParallelism());
  });

  it('service options: SERVICE_DEFAULTS, BOUND_DEFAULTS and ADAPTIVE_DEFAULT', () => {
    const rows = defaults('service option');
    check(
      rows,
      {
        ...BOUND_DEFAULTS,
        timeoutMs: SERVICE_DEFAULTS.timeoutMs,
        retry: SERVICE_DEFAULTS.retry,
        maxRetryAfterMs: SERVICE_DEFAULTS.maxRetryAfterMs,
      },
      ['limit', ...BOUNDS, 'timeoutMs', 'retry', 'classify', 'maxRetryAfterMs'],
    );
    expect(rows.find(([name]) => name === 'limit')?.[1]).toContain(`\`ADAPTIVE_DEFAULT\`: \`'${ADAPTIVE_DEFAULT}'\``);
  });

  it("limit parameters: each algorithm's defaults in LIMIT_ALGORITHMS, every parameter but the bounds listed", () => {
    const expected: Record<string, unknown> = {};
    for (const [algorithm, values] of Object.entries(LIMIT_ALGORITHMS)) {
      for (const [parameter, value] of Object.entries(values))
        if (!BOUNDS.includes(parameter)) expected[`${algorithm}.${parameter}`] = value;
    }
    check(defaults('limit parameter'), expected, Object.keys(expected));
    expect(readme).toContain(
      `bounds \`initial\`, \`min\`, \`max\` (${BOUND_DEFAULTS.initial}, ${BOUND_DEFAULTS.min}, ${BOUND_DEFAULTS.max})`,
    );
  });

  it('window options: WINDOW_DEFAULTS', () => {
    check(defaults('window option'), { ...WINDOW_DEFAULTS }, Object.keys(WINDOW_DEFAULTS));
  });

  it('CLI flags: CONFIG_DEFAULTS and each flag’s environment variable', () => {
    const rows = table('flag');
    const flags = rows.map(([flag = '']) => /^`--(?:\[no-\])?([\w-]+)/.exec(flag)?.[1]);
    expect(flags.sort()).toEqual(Object.keys(RUN_FLAGS).sort());
    for (const [flagCell = '', dflt = '', env = ''] of rows) {
      const name = /^`--(?:\[no-\])?([\w-]+)/.exec(flagCell)![1]! as keyof typeof RUN_FLAGS;
      const key = RUN_FLAGS[name].key;
      if (key === null) continue;
      expect(names(env)[0], flagCell).toBe(ENV_VARS[key]);
      const value = (CONFIG_DEFAULTS as Readonly<Record<string, unknown>>)[key];
      if (value !== undefined && typeof value !== 'object') {
        expect(agrees(dflt, value), `${flagCell}: documented ${dflt}, code ${String(value)}`).toBe(true);
      } else {
        expect(literal(dflt), `${flagCell} has no default value: the README says what unset means`).toBeTypeOf('symbol');
      }
    }
  });
});

describe('JSDoc @default tags agree with the code', () => {
  it.each<[string, string, Readonly<Record<string, unknown>>, readonly string[]]>([
    [
      'src/options.ts',
      'ExecutorOptions',
      { ordered: DEFAULTS.ordered, stopOnError: DEFAULTS.stopOnError },
      ['buffer', 'outputBuffer', 'window'],
    ],
    ['src/stages/types.ts', 'IoOptions', { timeoutMs: DEFAULTS.ioTimeoutMs }, []],
    [
      'src/stages/types.ts',
      'CpuOptions',
      {
        exportName: DEFAULTS.exportName,
        transfer: DEFAULTS.transfer,
        expose: undefined,
        onProgress: undefined,
        resourceLimits: undefined,
        timeoutMs: DEFAULTS.cpuTimeoutMs,
      },
      ['threads'],
    ],
    [
      'src/services/options.ts',
      'ServiceOptions',
      {
        ...BOUND_DEFAULTS,
        timeoutMs: SERVICE_DEFAULTS.timeoutMs,
        retry: SERVICE_DEFAULTS.retry,
        maxRetryAfterMs: SERVICE_DEFAULTS.maxRetryAfterMs,
      },
      ['limit', 'classify', 'now', 'random'],
    ],
    ['src/limits/limit.ts', 'LimitBounds', { ...BOUND_DEFAULTS }, []],
    ['src/limits/aimd.ts', 'AimdOptions', AIMD_DEFAULTS, []],
    ['src/limits/vegas.ts', 'VegasOptions', VEGAS_DEFAULTS, []],
    ['src/limits/gradient2.ts', 'Gradient2Options', GRADIENT2_DEFAULTS, []],
    ['src/limits/windowed.ts', 'WindowOptions', { ...WINDOW_DEFAULTS }, []],
    ['src/cli/config/schema.ts', 'CONFIG_DEFAULTS', CONFIG_DEFAULTS, []],
  ])('%s %s', (path, block, runtime, descriptive) => {
    const documented = jsdocDefaults(path, block);
    const own = Object.keys(runtime).filter((k) => !(BOUNDS.includes(k) && block.endsWith('Options') && block !== 'ServiceOptions'));
    // Every runtime default is documented where the option is declared (an algorithm's bounds, on LimitBounds).
    for (const key of [...own, ...descriptive]) expect(documented[key], `${block}.${key} has no @default`).toBeDefined();
    for (const key of own) {
      const value = runtime[key];
      if (typeof value === 'object' && value !== null && key === 'io') continue; // {} with a note
      expect(agrees(documented[key]!, value), `${block}.${key}: @default ${documented[key]}, code ${String(value)}`).toBe(true);
    }
  });
});
