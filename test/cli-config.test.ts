/** The layered config of the `sluice` CLI: defaults < file < SLUICE_* env < flags, and its errors. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONFIG_DEFAULTS,
  CONFIG_FILE_NAME,
  ENV_VARS,
  IO_ALGORITHMS,
  RUN_FLAGS,
  configCommand,
  formatConfig,
  parseRunArgs,
  resolveConfig,
  runFlagsHelp,
  type ResolvedConfig,
} from '../src/cli/config/index.js';
import { ErrorCodes, SluiceConfigError, SluiceUsageError } from '../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Env = Record<string, string | undefined>;

function resolveFrom(argv: readonly string[], env: Env = {}, cwd = dir): Promise<ResolvedConfig> {
  return resolveConfig({ flags: parseRunArgs(argv).flags, env, cwd });
}

async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value));
  return path;
}

async function configError(promise: Promise<unknown>): Promise<SluiceConfigError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SluiceConfigError);
  expect((error as SluiceConfigError).code).toBe(ErrorCodes.CONFIG);
  return error as SluiceConfigError;
}

function usageError(fn: () => unknown): SluiceUsageError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SluiceUsageError);
  expect((error as SluiceUsageError).code).toBe(ErrorCodes.USAGE);
  return error as SluiceUsageError;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

const IO_EXPECTED = `a positive integer or one of ${IO_ALGORITHMS.join(', ')}`;

describe('resolveConfig: layers', () => {
  it('gives the defaults when nothing is set, every key sourced from the default', async () => {
    const resolved = await resolveFrom([]);
    expect(resolved.config).toEqual({ inputFormat: 'auto', io: {}, ordered: false, log: 'auto', logIntervalMs: 1000 });
    expect(resolved.config).toMatchObject(CONFIG_DEFAULTS);
    expect(resolved.file).toBeUndefined();
    expect(Object.keys(resolved.sources)).toEqual(Object.keys(ENV_VARS));
    for (const source of Object.values(resolved.sources)) expect(source).toEqual({ kind: 'default' });
    expect(Object.isFrozen(CONFIG_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(resolved.config)).toBe(true);
  });

  it('lets the env beat the file and a flag beat both, reporting each source', async () => {
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { threads: 2, log: 'json', limit: 5 });
    const fromFile = await resolveFrom([]);
    expect(fromFile.file).toBe(file);
    expect(fromFile.config.threads).toBe(2);
    expect(fromFile.sources['threads']).toEqual({ kind: 'file', path: file });

    const fromEnv = await resolveFrom([], { SLUICE_THREADS: '3' });
    expect(fromEnv.config.threads).toBe(3);
    expect(fromEnv.sources['threads']).toEqual({ kind: 'env', name: 'SLUICE_THREADS' });

    const fromFlag = await resolveFrom(['--threads', '4', '--no-ordered'], { SLUICE_THREADS: '3', SLUICE_ORDERED: '1' });
    expect(fromFlag.config).toMatchObject({ threads: 4, log: 'json', limit: 5, ordered: false });
    expect(fromFlag.sources['threads']).toEqual({ kind: 'flag', name: '--threads' });
    expect(fromFlag.sources['ordered']).toEqual({ kind: 'flag', name: '--ordered' });
    expect(fromFlag.sources['log']).toEqual({ kind: 'file', path: file });
    expect(fromFlag.sources['buffer']).toEqual({ kind: 'default' });
  });

  it('merges io per service across layers, the later layer winning per service', async () => {
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { io: { docs: 8, store: 2, cache: 'aimd' } });
    const { config, sources } = await resolveFrom(['--io', 'docs=16', '--io', 'db=vegas,cache=3'], {
      SLUICE_IO: 'store=adaptive, search=4',
    });
    expect(config.io).toEqual({ docs: 16, store: 'adaptive', cache: 3, search: 4, db: 'vegas' });
    expect(sources['io.docs']).toEqual({ kind: 'flag', name: '--io' });
    expect(sources['io.cache']).toEqual({ kind: 'flag', name: '--io' });
    expect(sources['io.db']).toEqual({ kind: 'flag', name: '--io' });
    expect(sources['io.store']).toEqual({ kind: 'env', name: 'SLUICE_IO' });
    expect(sources['io.search']).toEqual({ kind: 'env', name: 'SLUICE_IO' });
    expect(sources['io']).toBeUndefined();

    const fileOnly = await resolveFrom([]);
    expect(fileOnly.config.io).toEqual({ docs: 8, store: 2, cache: 'aimd' });
    expect(fileOnly.sources['io.cache']).toEqual({ kind: 'file', path: file });
  });

  it('picks the file from --config, else SLUICE_CONFIG, else sluice.config.json', async () => {
    await writeJson(join(dir, CONFIG_FILE_NAME), { buffer: 1 });
    const fromEnv = await writeJson(join(dir, 'env.json'), { buffer: 2 });
    const fromFlag = await writeJson(join(dir, 'flag.json'), { buffer: 3 });
    expect((await resolveFrom([])).config.buffer).toBe(1);
    expect((await resolveFrom([], { SLUICE_CONFIG: 'env.json' })).config.buffer).toBe(2);
    const both = await resolveFrom(['--config', 'flag.json'], { SLUICE_CONFIG: fromEnv });
    expect(both.config.buffer).toBe(3);
    expect(both.file).toBe(fromFlag);
  });

  it('resolves relative paths of a file against its directory, of env and flags against the cwd', async () => {
    const confDir = join(dir, 'conf');
    await mkdir(confDir);
    const file = await writeJson(join(confDir, 'c.json'), { input: 'tasks.jsonl', output: 'out/o.jsonl' });
    const fromFile = await resolveFrom(['--config', file]);
    expect(fromFile.config.input).toBe(join(confDir, 'tasks.jsonl'));
    expect(fromFile.config.output).toBe(join(confDir, 'out/o.jsonl'));

    const fromEnv = await resolveFrom(['--config', file, '--output', '-'], { SLUICE_INPUT: 'in.csv' });
    expect(fromEnv.config.input).toBe(join(dir, 'in.csv'));
    expect(fromEnv.config.output).toBe('-');
    expect((await resolveFrom(['--input', '/abs/x.jsonl'])).config.input).toBe('/abs/x.jsonl');
  });

  it('ignores unknown and empty SLUICE_* variables', async () => {
    const { config, sources } = await resolveFrom([], { SLUICE_COLOR: 'yes', SLUICE_THREADS: '', OTHER: '1' });
    expect(config.threads).toBeUndefined();
    expect(sources['threads']).toEqual({ kind: 'default' });
  });
});

describe('resolveConfig: errors', () => {
  it('rejects a --config naming a missing file, naming the flag and the file', async () => {
    const missing = join(dir, 'missing.json');
    const error = await configError(resolveFrom(['--config', missing]));
    expect(error).toMatchObject({ key: 'config', source: { kind: 'flag', name: '--config' }, received: missing });
    const viaEnv = await configError(resolveFrom([], { SLUICE_CONFIG: missing }));
    expect(viaEnv.source).toEqual({ kind: 'env', name: 'SLUICE_CONFIG' });
  });

  it('rejects a file that is not valid JSON, or not an object', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ "threads": 2,');
    const error = await configError(resolveFrom(['--config', bad]));
    expect(error).toMatchObject({ key: 'config', source: { kind: 'file', path: bad } });
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.message).toContain(bad);

    await writeJson(join(dir, CONFIG_FILE_NAME), [1, 2]);
    const notObject = await configError(resolveFrom([]));
    expect(notObject).toMatchObject({ key: 'config', received: [1, 2] });
  });

  it('rejects a wrong type in the file, naming the key, the file, the expected and the received value', async () => {
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { threads: 'two' });
    const error = await configError(resolveFrom([]));
    expect(error).toMatchObject({
      key: 'threads',
      source: { kind: 'file', path: file },
      expected: 'a positive integer',
      received: 'two',
    });
    expect(error.message).toContain('`threads`');
  });

  it('rejects a bad io setting in the file under its dotted key', async () => {
    await writeJson(join(dir, CONFIG_FILE_NAME), { io: { docs: 8, store: 0 } });
    const error = await configError(resolveFrom([]));
    expect(error).toMatchObject({ key: 'io.store', expected: IO_EXPECTED, received: 0 });
  });

  it('rejects an unknown key in the file, naming it', async () => {
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { threads: 2, thread: 3 });
    const error = await configError(resolveFrom([]));
    expect(error).toMatchObject({ key: 'thread', source: { kind: 'file', path: file }, received: 3 });
    expect(error.message).toContain('`thread`');
  });

  it('rejects an env value that does not coerce, naming the variable', async () => {
    const error = await configError(resolveFrom([], { SLUICE_THREADS: 'abc' }));
    expect(error).toMatchObject({
      key: 'threads',
      source: { kind: 'env', name: 'SLUICE_THREADS' },
      expected: 'a positive integer',
      received: 'abc',
    });
    expect(error.message).toContain('SLUICE_THREADS');
    const interval = await configError(resolveFrom([], { SLUICE_LOG_INTERVAL: '50' }));
    expect(interval).toMatchObject({ key: 'logIntervalMs', source: { name: 'SLUICE_LOG_INTERVAL' }, received: '50' });
    const ordered = await configError(resolveFrom([], { SLUICE_ORDERED: 'maybe' }));
    expect(ordered).toMatchObject({ key: 'ordered', received: 'maybe' });
    const io = await configError(resolveFrom([], { SLUICE_IO: 'docs' }));
    expect(io).toMatchObject({ key: 'io', source: { kind: 'env', name: 'SLUICE_IO' }, received: 'docs' });
  });

  it('rejects a bad flag value, naming the flag and the dotted key', async () => {
    const error = await configError(resolveFrom(['--io', 'docs=fast']));
    expect(error).toMatchObject({
      key: 'io.docs',
      source: { kind: 'flag', name: '--io' },
      expected: IO_EXPECTED,
      received: 'fast',
    });
    expect(error.message).toContain('io.docs');
    const port = await configError(resolveFrom(['--metrics-port', '70000']));
    expect(port).toMatchObject({ key: 'metricsPort', source: { name: '--metrics-port' }, received: '70000' });
    const format = await configError(resolveFrom(['--input-format', 'xml']));
    expect(format).toMatchObject({ key: 'inputFormat', source: { name: '--input-format' }, received: 'xml' });
  });
});

describe('parseRunArgs', () => {
  it('returns positionals, flags as given and help', () => {
    const parsed = parseRunArgs(['job.ts', '--io', 'a=1,b=2', '--io', 'c=3', '--ordered', '--limit', '10']);
    expect(parsed.positionals).toEqual(['job.ts']);
    expect(parsed.flags).toEqual({ io: ['a=1,b=2', 'c=3'], ordered: true, limit: '10' });
    expect(parsed.help).toBe(false);
    expect(parseRunArgs(['-h']).help).toBe(true);
  });

  it('throws SluiceUsageError for an unknown flag or a missing value, naming the flag', () => {
    expect(usageError(() => parseRunArgs(['--bogus'])).message).toContain('--bogus');
    expect(usageError(() => parseRunArgs(['--threads'])).message).toContain('--threads');
    expect(usageError(() => parseRunArgs(['--ordered=yes'])).message).toContain('--ordered');
  });
});

describe('help and printing', () => {
  it('lists every flag with its default and its environment variable', () => {
    const lines = runFlagsHelp();
    for (const [name, spec] of Object.entries(RUN_FLAGS)) {
      const line = lines.find((l) => l.includes(`-${name} `) || l.includes(`]${name} `));
      expect(line, name).toBeDefined();
      if (spec.key === null) continue;
      expect(line).toContain(ENV_VARS[spec.key]);
      const dflt = (CONFIG_DEFAULTS as Record<string, unknown>)[spec.key];
      expect(line).toMatch(typeof dflt === 'object' || dflt === undefined ? /\(default: [^;]+;/ : `default: ${String(dflt)};`);
    }
    expect(lines.some((l) => l.includes('--help'))).toBe(true);
  });

  it('prints each key with its value and its source', async () => {
    const lines = formatConfig(await resolveFrom(['--threads', '2'], { SLUICE_IO: 'docs=adaptive' }));
    expect(lines.find((l) => l.startsWith('threads '))).toMatch(/^threads\s+2\s+\(flag --threads\)$/);
    expect(lines.find((l) => l.startsWith('io.docs '))).toMatch(/^io\.docs\s+adaptive\b.*\(env SLUICE_IO\)$/);
    expect(lines.find((l) => l.startsWith('log '))).toMatch(/^log\s+auto\s+\(default\)$/);
  });
});

describe('configCommand', () => {
  it('prints the config and exits 0; --help exits 0', async () => {
    const c = capture();
    expect(await configCommand(['--buffer', '7'], c.io, {}, dir)).toBe(0);
    expect(c.err).toEqual([]);
    expect(c.out.find((l) => l.startsWith('buffer '))).toContain('(flag --buffer)');
    const h = capture();
    expect(await configCommand(['--help'], h.io, {}, dir)).toBe(0);
    expect(h.out.some((l) => l.includes('--metrics-port'))).toBe(true);
  });

  it('exits 2 with a message and a hint for a usage or config error', async () => {
    for (const [argv, env] of [
      [['--bogus'], {}],
      [['stray'], {}],
      [['--io', 'docs=fast'], {}],
      [[], { SLUICE_THREADS: 'abc' }],
    ] as Array<[string[], Env]>) {
      const c = capture();
      expect(await configCommand(argv, c.io, env, dir), argv.join(' ')).toBe(2);
      expect(c.out).toEqual([]);
      expect(c.err).toHaveLength(2);
    }
  });
});
