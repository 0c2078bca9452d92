/**
 * The layered config of the `sluice` CLI: defaults < file < SLUICE_* env < flags, and its errors;
 * `sluice config JOB`, which checks the settings against a job and always closes it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CONFIG_DEFAULTS,
  CONFIG_FILE_NAME,
  ENV_VARS,
  IO_ALGORITHMS,
  RUN_FLAGS,
  configCommand,
  formatConfig,
  IO_ALGORITHM_EXPECTED,
  IO_PARAMETERS_EXPECTED,
  parseRunArgs,
  resolveConfig,
  runFlagsHelp,
  type ResolvedConfig,
} from '../src/cli/config/index.js';
import { AlgorithmLimit, ErrorCodes, LIMIT_ALGORITHMS, VEGAS_DEFAULTS } from '../src/index.js';
import { buildServices } from '../src/cli/job/build.js';
import doubleJobModule from './fixtures/jobs/double-job.js';
import { SluiceConfigError, SluiceUsageError } from '../src/cli/errors.js';
import { LANES_MAX } from '../src/cli/config/schema.js';
import { workerCommand } from '../src/cli/queue/worker-command.js';
import { workerHelp } from '../src/cli/queue/worker-options.js';
import { MAX_LANES } from '../src/lanes/threads.js';

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
  // One io.out call may carry several lines (a batch of outcomes): one entry per line, as printed.
  return { out, err, io: { out: (l: string) => out.push(...l.split('\n')), err: (l: string) => err.push(l) } };
}

const IO_EXPECTED =
  'a positive integer, or one of adaptive, aimd, vegas, gradient2 with optional parameters ' +
  '({"limit": "vegas", "alpha": 2} in a file, vegas:alpha=2 in a flag or SLUICE_IO)';

describe('resolveConfig: layers', () => {
  it('gives the defaults when nothing is set, every key sourced from the default', async () => {
    const resolved = await resolveFrom([]);
    expect(resolved.config).toEqual({
      inputFormat: 'auto',
      io: {},
      ordered: false,
      log: 'auto',
      logIntervalMs: 1000,
      lanes: 1,
      queuePrefix: 'sluice',
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalled: 1,
    });
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
    expect(fromFile.sources.threads).toEqual({ kind: 'file', path: file });

    const fromEnv = await resolveFrom([], { SLUICE_THREADS: '3' });
    expect(fromEnv.config.threads).toBe(3);
    expect(fromEnv.sources.threads).toEqual({ kind: 'env', name: 'SLUICE_THREADS' });

    const fromFlag = await resolveFrom(['--threads', '4', '--no-ordered'], { SLUICE_THREADS: '3', SLUICE_ORDERED: '1' });
    expect(fromFlag.config).toMatchObject({ threads: 4, log: 'json', limit: 5, ordered: false });
    expect(fromFlag.sources.threads).toEqual({ kind: 'flag', name: '--threads' });
    expect(fromFlag.sources.ordered).toEqual({ kind: 'flag', name: '--ordered' });
    expect(fromFlag.sources.log).toEqual({ kind: 'file', path: file });
    expect(fromFlag.sources.buffer).toEqual({ kind: 'default' });
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
    expect(sources.io).toBeUndefined();

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
    expect(sources.threads).toEqual({ kind: 'default' });
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

describe('timeoutMs (--timeout, SLUICE_TIMEOUT)', () => {
  it('is read from the file, the env and the flag, the later layer winning, and unset by default', async () => {
    expect((await resolveFrom([])).config.timeoutMs).toBeUndefined();
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { timeoutMs: 5000 });
    const fromFile = await resolveFrom([]);
    expect(fromFile.config.timeoutMs).toBe(5000);
    expect(fromFile.sources.timeoutMs).toEqual({ kind: 'file', path: file });
    const fromEnv = await resolveFrom([], { SLUICE_TIMEOUT: '0' });
    expect(fromEnv.config.timeoutMs).toBe(0);
    expect(fromEnv.sources.timeoutMs).toEqual({ kind: 'env', name: 'SLUICE_TIMEOUT' });
    const fromFlag = await resolveFrom(['--timeout', '250'], { SLUICE_TIMEOUT: '0' });
    expect(fromFlag.config.timeoutMs).toBe(250);
    expect(fromFlag.sources.timeoutMs).toEqual({ kind: 'flag', name: '--timeout' });
    expect(formatConfig(fromFlag).find((l) => l.startsWith('timeoutMs '))).toMatch(/^timeoutMs\s+250\s+\(flag --timeout\)$/);
  });

  it('rejects a value that is not a whole number of ms from 0 to 2^31-1, naming the key, the source, the expected and the received value', async () => {
    const expected = `an integer from 0 to ${2 ** 31 - 1} (milliseconds; 0: no timeout)`;
    const flag = await configError(resolveFrom(['--timeout', '1.5']));
    expect(flag).toMatchObject({ key: 'timeoutMs', source: { kind: 'flag', name: '--timeout' }, expected, received: '1.5' });
    const env = await configError(resolveFrom([], { SLUICE_TIMEOUT: 'soon' }));
    expect(env).toMatchObject({ key: 'timeoutMs', source: { kind: 'env', name: 'SLUICE_TIMEOUT' }, expected, received: 'soon' });
    const huge = await configError(resolveFrom(['--timeout', String(2 ** 31)]));
    expect(huge).toMatchObject({ key: 'timeoutMs', received: String(2 ** 31) });
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { timeoutMs: -1 });
    const fromFile = await configError(resolveFrom([]));
    expect(fromFile).toMatchObject({ key: 'timeoutMs', source: { kind: 'file', path: file }, expected, received: -1 });
  });

  it('is listed in the help with its default and variable', () => {
    const line = runFlagsHelp().find((l) => l.includes('--timeout MS'));
    expect(line).toContain('SLUICE_TIMEOUT');
  });
});

describe('lanes (--lanes, SLUICE_LANES)', () => {
  const expected = 'an integer from 1 to 256, or auto';

  it('is 1 by default, read from the file, the env and the flag, the later layer winning; auto stays the word', async () => {
    const none = await resolveFrom([]);
    expect(none.config.lanes).toBe(1);
    expect(none.sources.lanes).toEqual({ kind: 'default' });
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { lanes: 3 });
    const fromFile = await resolveFrom([]);
    expect(fromFile.config.lanes).toBe(3);
    expect(fromFile.sources.lanes).toEqual({ kind: 'file', path: file });
    const fromEnv = await resolveFrom([], { SLUICE_LANES: 'auto' });
    expect(fromEnv.config.lanes).toBe('auto');
    expect(fromEnv.sources.lanes).toEqual({ kind: 'env', name: 'SLUICE_LANES' });
    const fromFlag = await resolveFrom(['--lanes', '256'], { SLUICE_LANES: 'auto' });
    expect(fromFlag.config.lanes).toBe(256);
    expect(fromFlag.sources.lanes).toEqual({ kind: 'flag', name: '--lanes' });
    const autoFlag = await resolveFrom(['--lanes', 'auto'], { SLUICE_LANES: '2' });
    expect(autoFlag.config.lanes).toBe('auto');
    await writeJson(file, { lanes: 'auto' });
    expect((await resolveFrom([])).config.lanes).toBe('auto');
    // The CLI's bound is the library's.
    expect(LANES_MAX).toBe(MAX_LANES);
  });

  it.each<[string, () => Promise<unknown>, Record<string, unknown>]>([
    ['--lanes 0', async () => resolveFrom(['--lanes', '0']), { source: { kind: 'flag', name: '--lanes' }, received: '0' }],
    ['--lanes x', async () => resolveFrom(['--lanes', 'x']), { source: { kind: 'flag', name: '--lanes' }, received: 'x' }],
    ['--lanes 257', async () => resolveFrom(['--lanes', '257']), { source: { kind: 'flag', name: '--lanes' }, received: '257' }],
    [
      'SLUICE_LANES=2.5',
      async () => resolveFrom([], { SLUICE_LANES: '2.5' }),
      { source: { kind: 'env', name: 'SLUICE_LANES' }, received: '2.5' },
    ],
    [
      'SLUICE_LANES=AUTO',
      async () => resolveFrom([], { SLUICE_LANES: 'AUTO' }),
      { source: { kind: 'env', name: 'SLUICE_LANES' }, received: 'AUTO' },
    ],
    ['{"lanes": "many"}', async () => resolveFrom([], {}, await lanesFile('many')), { source: { kind: 'file' }, received: 'many' }],
    ['{"lanes": 257}', async () => resolveFrom([], {}, await lanesFile(257)), { source: { kind: 'file' }, received: 257 }],
    ['{"lanes": "4"}', async () => resolveFrom([], {}, await lanesFile('4')), { source: { kind: 'file' }, received: '4' }],
  ])('rejects %s, naming the key, the source, the expected and the received value', async (_what, resolve, fields) => {
    const error = await configError(resolve());
    expect(error).toMatchObject({ key: 'lanes', expected, ...fields });
    expect(error.message).toContain('`lanes`');
    expect(error.message).toContain(expected);
  });

  it('is printed by `sluice config` with its source, and listed in the help', async () => {
    const line = (lines: string[]) => lines.find((l) => l.startsWith('lanes '));
    expect(line(formatConfig(await resolveFrom([])))).toMatch(/^lanes\s+1\s+\(default\)$/);
    expect(line(formatConfig(await resolveFrom([], { SLUICE_LANES: 'auto' })))).toMatch(/^lanes\s+auto\s+\(env SLUICE_LANES\)$/);
    const c = capture();
    expect(await configCommand(['--lanes', '4'], c.io, {}, dir)).toBe(0);
    expect(line(c.out)).toMatch(/^lanes\s+4\s+\(flag --lanes\)$/);
    const bad = capture();
    expect(await configCommand(['--lanes', '0'], bad.io, {}, dir)).toBe(2);
    expect(bad.err[0]).toBe(`sluice config: Expected config \`lanes\` (from flag --lanes) to be ${expected}, got \`"0"\` (string)`);
    expect(runFlagsHelp().find((l) => l.includes('--lanes N|auto'))).toMatch(
      /copies of the job's pipeline, each in a worker thread of its own \(1: on the main thread; auto: one per 4 cores, at least 2\) \(default: 1; env SLUICE_LANES\)$/,
    );
  });
});

describe('sluice worker and lanes (refused before the job loads or Redis is reached)', () => {
  // A job module that does not exist: a worker that gets past its config checks stops there, exit 2.
  const missingJob = (): string => join(dir, 'missing-job.ts');

  async function worker(args: readonly string[], env: Env = {}): Promise<{ code: number; err: string[] }> {
    const err: string[] = [];
    const code = await workerCommand([missingJob(), '--queue', 'q', ...args], {
      out: () => undefined,
      err: (l) => err.push(l),
      env,
      cwd: dir,
    });
    return { code, err };
  }

  it('refuses --lanes other than 1 (exit 2), saying lanes apply to `sluice run` only', async () => {
    for (const value of ['4', 'auto']) {
      const { code, err } = await worker(['--lanes', value]);
      expect(code).toBe(2);
      expect(err[0]).toContain(`--lanes ${value}: lanes apply to \`sluice run\` only`);
      expect(err.join('\n')).not.toContain('missing-job');
    }
    const bad = await worker(['--lanes', '0']);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toContain('Expected config `lanes` (from flag --lanes)');
    expect(workerHelp().find((l) => l.includes('--lanes N|auto'))).toContain('1 only: lanes apply to `sluice run` only');
  });

  it('ignores a lanes from the env or a shared config file with one notice, and --lanes 1 (which overrides them) without one', async () => {
    const fromEnv = await worker([], { SLUICE_LANES: 'auto' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.err.filter((l) => l.includes('lanes'))).toEqual([
      'sluice worker: ignoring `lanes` auto (env SLUICE_LANES): lanes apply to `sluice run` only; this worker runs one pipeline on its main thread',
    ]);
    // It went on past its config: the job module is what stopped it.
    expect(fromEnv.err.join('\n')).toContain('missing-job');

    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { lanes: 4 });
    const fromFile = await worker([]);
    expect(fromFile.err.filter((l) => l.includes('lanes'))).toEqual([
      `sluice worker: ignoring \`lanes\` 4 (file ${file}): lanes apply to \`sluice run\` only; this worker runs one pipeline on its main thread`,
    ]);
    expect(fromFile.err.join('\n')).toContain('missing-job');

    const one = await worker(['--lanes', '1'], { SLUICE_LANES: '8' });
    expect(one.err.some((l) => l.includes('lanes'))).toBe(false);
    expect(one.err.join('\n')).toContain('missing-job');
  });
});

async function lanesFile(lanes: unknown): Promise<string> {
  await writeJson(join(dir, CONFIG_FILE_NAME), { lanes });
  return dir;
}

describe('io settings with algorithm parameters', () => {
  it('lists the algorithms from the library: adaptive, then every LIMIT_ALGORITHMS name but fixed', () => {
    expect(IO_ALGORITHMS).toEqual(['adaptive', ...Object.keys(LIMIT_ALGORITHMS).filter((n) => n !== 'fixed')]);
    expect(IO_ALGORITHMS).toEqual(['adaptive', 'aimd', 'vegas', 'gradient2']);
  });

  it('reads them from the file as objects, from flags and SLUICE_IO as ALGORITHM:PARAM=VALUE', async () => {
    const file = await writeJson(join(dir, CONFIG_FILE_NAME), { io: { docs: { limit: 'vegas', alpha: 2, max: 64 }, db: 'aimd' } });
    const fromFile = await resolveFrom([]);
    expect(fromFile.config.io).toEqual({ docs: { limit: 'vegas', alpha: 2, max: 64 }, db: 'aimd' });
    expect(fromFile.sources['io.docs']).toEqual({ kind: 'file', path: file });

    const { config, sources } = await resolveFrom(['--io', 'docs=gradient2:tolerance=2.5:min=2,store=8', '--io', 'cache=adaptive:max=16'], {
      SLUICE_IO: 'search=aimd:backoffRatio=0.8:increase=.5, db=vegas',
    });
    expect(config.io).toEqual({
      docs: { limit: 'gradient2', tolerance: 2.5, min: 2 },
      store: 8,
      cache: { limit: 'adaptive', max: 16 },
      search: { limit: 'aimd', backoffRatio: 0.8, increase: 0.5 },
      db: 'vegas',
    });
    expect(sources['io.docs']).toEqual({ kind: 'flag', name: '--io' });
    expect(sources['io.search']).toEqual({ kind: 'env', name: 'SLUICE_IO' });
    expect(sources['io.db']).toEqual({ kind: 'env', name: 'SLUICE_IO' });
  });

  it.each<[string, () => Promise<unknown>, Record<string, unknown>]>([
    [
      "a value out of the library's range (file)",
      async () => resolveFrom([], {}, await fileWith({ docs: { limit: 'vegas', alpha: 0 } })),
      { key: 'io.docs.alpha', expected: 'a finite number > 0', received: 0 },
    ],
    [
      'a value that is no number (flag)',
      async () => resolveFrom(['--io', 'docs=vegas:alpha=two']),
      { key: 'io.docs.alpha', source: { kind: 'flag', name: '--io' }, expected: 'a finite number > 0', received: 'two' },
    ],
    [
      'a parameter of another algorithm (flag)',
      async () => resolveFrom(['--io', 'docs=vegas:backoffRatio=0.5']),
      {
        key: 'io.docs.backoffRatio',
        expected: 'a parameter of vegas: initial, min, max, smoothing, probeMultiplier, alpha, beta',
        received: '0.5',
      },
    ],
    [
      'an algorithm parameter for adaptive, which takes the bounds only (env)',
      async () => resolveFrom([], { SLUICE_IO: 'docs=adaptive:alpha=2' }),
      {
        key: 'io.docs.alpha',
        source: { kind: 'env', name: 'SLUICE_IO' },
        expected: 'a parameter of adaptive (the bounds only): initial, min, max',
        received: '2',
      },
    ],
    [
      'a parameter without a value (flag)',
      async () => resolveFrom(['--io', 'docs=vegas:alpha']),
      { key: 'io.docs', expected: IO_PARAMETERS_EXPECTED, received: 'vegas:alpha' },
    ],
    [
      'a parameter given twice (flag)',
      async () => resolveFrom(['--io', 'docs=vegas:alpha=1:alpha=2']),
      { key: 'io.docs', expected: IO_PARAMETERS_EXPECTED, received: 'vegas:alpha=1:alpha=2' },
    ],
    [
      'parameters on a fixed limit (flag)',
      async () => resolveFrom(['--io', 'docs=8:max=3']),
      { key: 'io.docs.limit', expected: IO_ALGORITHM_EXPECTED, received: '8' },
    ],
    [
      'an object without a limit (file)',
      async () => resolveFrom([], {}, await fileWith({ docs: { alpha: 2 } })),
      { key: 'io.docs.limit', expected: IO_ALGORITHM_EXPECTED, received: undefined },
    ],
    [
      'beta below alpha (file)',
      async () => resolveFrom([], {}, await fileWith({ docs: { limit: 'vegas', alpha: 3, beta: 2 } })),
      { key: 'io.docs.beta', expected: 'a finite number >= alpha (3)', received: 2 },
    ],
    [
      'max below min (flag)',
      async () => resolveFrom(['--io', 'docs=aimd:min=5:max=3']),
      { key: 'io.docs.max', expected: 'an integer >= min (5)', received: '3' },
    ],
  ])('rejects %s, naming the dotted key, the source, the expected and the received value', async (_what, resolve, fields) => {
    const error = await configError(resolve());
    expect(error).toMatchObject(fields);
    expect(error.message).toContain(`\`${String(fields.key)}\``);
  });

  it('prints a setting with parameters in its flag form, and lists the algorithms in the help', async () => {
    const lines = formatConfig(await resolveFrom(['--io', 'docs=vegas:alpha=2:max=64']));
    expect(lines.find((l) => l.startsWith('io.docs '))).toMatch(/^io\.docs\s+vegas:alpha=2:max=64\s+\(flag --io\)$/);
    const help = runFlagsHelp();
    const vegas = help.find((l) => l.trimStart().startsWith('vegas '));
    expect(vegas).toBe(
      `  vegas      ${Object.entries(VEGAS_DEFAULTS)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    expect(help.find((l) => l.trimStart().startsWith('adaptive '))).toContain('vegas, the bounds only: initial=4 min=1 max=200');
    expect(help.find((l) => l.includes('--io SERVICE=SETTING'))).toContain('docs=vegas:alpha=2:max=64');
  });

  it("builds the service with the algorithm and its parameters over the job's bounds", async () => {
    const { config } = await resolveFrom(['--io', 'calc=vegas:alpha=2:max=64']);
    const { services, serviceOptions } = buildServices(doubleJobModule, config);
    const limit = services.calc!.limit;
    expect(limit).toBeInstanceOf(AlgorithmLimit);
    expect((limit as AlgorithmLimit<never>).parameters).toEqual({ ...VEGAS_DEFAULTS, alpha: 2, max: 64 });
    expect(serviceOptions.calc).toMatchObject({ timeoutMs: 0, retry: false });
    const withBounds = buildServices(
      { ...doubleJobModule, services: { calc: { limit: 'aimd', initial: 8, max: 10 } } },
      (await resolveFrom(['--io', 'calc=vegas:max=20'])).config,
    );
    expect((withBounds.services.calc!.limit as AlgorithmLimit<never>).parameters).toMatchObject({ initial: 8, max: 20, alpha: 1 });
  });
});

async function fileWith(io: unknown): Promise<string> {
  await writeJson(join(dir, CONFIG_FILE_NAME), { io });
  return dir;
}

const doubleJob = fileURLToPath(new URL('./fixtures/jobs/double-job.ts', import.meta.url));
const slowJob = fileURLToPath(new URL('./fixtures/jobs/slow-job.ts', import.meta.url));

describe('configCommand with a job', () => {
  it("prints the config, then the job's services and stages with the settings applied and their sources", async () => {
    const c = capture();
    const code = await configCommand([doubleJob, '--io', 'calc=3', '--threads', '2', '--timeout', '900'], c.io, {}, dir);
    expect(c.err).toEqual([]);
    expect(code).toBe(0);
    expect(c.out.find((l) => l.startsWith('threads '))).toContain('(flag --threads)');
    expect(c.out).toContain(`job: double (${doubleJob})`);
    // The job sets timeoutMs 0 for calc: --timeout does not replace the job's own value.
    expect(c.out.find((l) => l.startsWith('service calc'))).toMatch(/limit fixed 3 \(flag --io\); timeout none \(job\)$/);
    expect(c.out.find((l) => l.startsWith('stage fetch'))).toMatch(/\bio\s+capacity follows service calc \(now 3\)$/);
    expect(c.out.find((l) => l.startsWith('stage double'))).toMatch(/\bcpu\s+capacity 2 threads \(flag --threads\); worker .*double\.ts$/);
  });

  it('prints the parameters an --io algorithm runs with, each with its source', async () => {
    const c = capture();
    expect(await configCommand([doubleJob, '--io', 'calc=vegas:alpha=2:max=64'], c.io, {}, dir)).toBe(0);
    expect(c.err).toEqual([]);
    expect(c.out.find((l) => l.startsWith('io.calc '))).toMatch(/^io\.calc\s+vegas:alpha=2:max=64\s+\(flag --io\)$/);
    expect(c.out.find((l) => l.startsWith('service calc'))).toMatch(
      /limit vegas, now 4 \(flag --io: max 64, alpha 2; default: initial 4, min 1, smoothing 0\.2, probeMultiplier 1000, beta 2\); timeout none \(job\)$/,
    );
    const adaptive = capture();
    expect(await configCommand([doubleJob], adaptive.io, { SLUICE_IO: 'calc=adaptive' }, dir)).toBe(0);
    expect(adaptive.out.find((l) => l.startsWith('service calc'))).toMatch(
      /limit adaptive \(vegas\), now 4 \(env SLUICE_IO; default: initial 4, min 1, max 200, smoothing 0\.2, probeMultiplier 1000, alpha 1, beta 2\);/,
    );
    const bad = capture();
    expect(await configCommand([doubleJob, '--io', 'calc=vegas:alpha=0'], bad.io, {}, dir)).toBe(2);
    expect(bad.out).toEqual([]);
    expect(bad.err[0]).toBe(
      'sluice config: Expected config `io.calc.alpha` (from flag --io) to be a finite number > 0, got `"0"` (string)',
    );
  });

  it('gives --timeout and --io to io stages without a service', async () => {
    const c = capture();
    expect(await configCommand([slowJob, '--io', 'work=3'], c.io, { SLUICE_TIMEOUT: '700' }, dir)).toBe(0);
    expect(c.out.find((l) => l.startsWith('stage work'))).toMatch(/capacity 3 \(flag --io\); timeout 700 ms \(env SLUICE_TIMEOUT\)$/);
    expect(c.out.find((l) => l.startsWith('stage finish'))).toMatch(/capacity 1 \(job\); timeout 700 ms \(env SLUICE_TIMEOUT\)$/);
  });

  it('refuses an --io name the job does not declare as `sluice run` does: a config error, exit 2, nothing on stdout', async () => {
    const c = capture();
    expect(await configCommand([doubleJob, '--io', 'nosuch=1'], c.io, {}, dir)).toBe(2);
    expect(c.out).toEqual([]);
    expect(c.err).toHaveLength(2);
    expect(c.err[0]).toContain('io.nosuch');
    expect(c.err[0]).toContain('(from flag --io)');
    expect(c.err[0]).toContain('service calc');
  });

  it("runs the job's setup and hands its resources to close; a close that throws is reported, the exit code kept", async () => {
    const index = new URL('../dist/src/index.js', import.meta.url).href;
    const file = join(dir, 'closing.mjs');
    await writeFile(
      file,
      `import { defineJob, io } from ${JSON.stringify(index)};\n` +
        `export default defineJob({ name: 'closing', setup: async () => 'pool', stages: async () => [io('a', (x) => x, { concurrency: 1 })],\n` +
        `  close: (resources) => { throw new Error('could not close ' + resources); } });\n`,
    );
    const c = capture();
    expect(await configCommand([file], c.io, {}, dir)).toBe(0);
    expect(c.out).toContain(`job: closing (${file})`);
    expect(c.err).toEqual(["sluice config: the job's close() failed: could not close pool"]);
  });

  it('refuses a missing job, a .cts job and two jobs, with exit 2', async () => {
    for (const argv of [[join(dir, 'nope.ts')], [join(dir, 'job.cts')], [doubleJob, slowJob]]) {
      const c = capture();
      expect(await configCommand(argv, c.io, {}, dir), argv.join(' ')).toBe(2);
      expect(c.out).toEqual([]);
      expect(c.err).toHaveLength(2);
    }
  });
});

describe('the built bin in a child process', () => {
  const bin = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));
  const serverJob = fileURLToPath(new URL('./fixtures/jobs/server-at-load.ts', import.meta.url));

  /** Runs the bin; resolves with its exit code and output, or kills it and fails if it has not exited in 30 s. */
  function sluice(args: readonly string[], env: Env): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`sluice ${args.join(' ')} did not exit within 30 s:\n${stderr}`));
      }, 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  const config = (args: readonly string[], log: string) => sluice(['config', ...args], { SLUICE_TEST_CLOSE_LOG: log });

  it('closes a job that opened a server at load, so the process exits, on success and on a refused --io name', async () => {
    const okLog = join(dir, 'ok.log');
    const ok = await config([serverJob, '--io', 'api=3'], okLog);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(okLog, 'utf8')).toBe('closed\n');

    const badLog = join(dir, 'bad.log');
    const bad = await config([serverJob, '--io', 'nosuch=1'], badLog);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('io.nosuch');
    expect(readFileSync(badLog, 'utf8')).toBe('closed\n');
  });

  it('loads no job (so has nothing to close) when the config itself is bad', async () => {
    const log = join(dir, 'config.log');
    const bad = await config([serverJob, '--threads', 'two'], log);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('threads');
    expect(existsSync(log)).toBe(false);
  });
});

describe('--timeout in a run', () => {
  const bin = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));

  it('fails attempts of an io stage without a service that outlive it with ERR_SLUICE_TIMEOUT (SLUICE_TIMEOUT alike)', async () => {
    // Every task of the slow job hangs (until its signal aborts): only the timeout ends them.
    for (const [args, env] of [
      [['--timeout', '50'], {}],
      [[], { SLUICE_TIMEOUT: '50' }],
    ] as Array<[string[], Env]>) {
      const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'run', slowJob, '--limit', '3', '--log', 'none', ...args], {
          cwd: dir,
          env: { ...process.env, ...env, SLUICE_TEST_HANG_FROM: '0' },
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.on('close', (code) => resolve({ code, stdout }));
      });
      expect(result.code).toBe(1);
      const lines = result.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { ok: boolean; stage: string; error: { code: string; timeoutMs: number } });
      expect(lines).toHaveLength(3);
      for (const line of lines)
        expect(line).toMatchObject({ ok: false, stage: 'work', error: { code: 'ERR_SLUICE_TIMEOUT', timeoutMs: 50 } });
    }
  });
});
