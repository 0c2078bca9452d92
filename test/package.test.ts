/**
 * The package as a user gets it: `npm pack` on a fresh copy of the sources (no dist/: the pack
 * must build it), the tarball installed into a new project, and the CLI and library used from
 * there, ES modules and CommonJS alike (Node >= 20.19 loads an ES module through `require()`).
 * One pack and one install (from the npm cache) serve every case; nothing here touches the
 * checkout's own dist/.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
/** What a fresh clone needs to build the package; tests, bench and docs stay out. */
const SOURCES = ['package.json', 'package-lock.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'src', 'workers'];

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment without the `npm_*` variables of the `npm test` running this file (its prefix,
 * its package), which would point npm in the temporary project back at the checkout.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') || keep.has(key.toLowerCase())) env[key] = value;
  }
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeout = 120_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The installed `sluice` command, as npm linked it (node_modules/.bin/sluice, what `npx sluice`
 * runs; npx itself is tried once, below, as it costs a second of npm start-up per call).
 */
function sluice(args: readonly string[], cwd: string): Promise<Result> {
  return run(join(cwd, 'node_modules', '.bin', 'sluice'), args, cwd);
}

function outcomes(text: string): Array<{ ok: boolean; index: number; value?: unknown }> {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { ok: boolean; index: number; value?: unknown });
}

const VALUES = [2, 4, 6, 8, 10];

/**
 * The public surface: every value `sluice` and `sluice/demo` export, by name. An export added or
 * removed by accident fails here; a deliberate one updates this list (and the README).
 */
const PUBLIC_VALUES = {
  sluice: [
    // executor and stages
    'createExecutor',
    'DEFAULTS',
    'io',
    'cpu',
    // services and limits
    'service',
    'SERVICE_DEFAULTS',
    'defaultClassify',
    'ADAPTIVE_DEFAULT',
    'LIMIT_ALGORITHMS',
    'createLimit',
    'AlgorithmLimit',
    'fixedLimit',
    'aimdLimit',
    'vegasLimit',
    'gradient2Limit',
    'windowedLimit',
    'BOUND_DEFAULTS',
    'AIMD_DEFAULTS',
    'VEGAS_DEFAULTS',
    'GRADIENT2_DEFAULTS',
    'WINDOW_DEFAULTS',
    // jobs
    'defineJob',
    'isJob',
    'importJob',
    // lanes
    'createJobExecutor',
    'createLanesExecutor',
    'autoLanes',
    'laneThreads',
    'MAX_LANES',
    'resolveLanes',
    // durable runs
    'openJournal',
    'readJournalStatus',
    'fingerprintInput',
    'compareFingerprints',
    // queues
    'enqueue',
    'enqueueEntries',
    'startQueueWorker',
    'runWorker',
    'queueResults',
    'queueStatus',
    'cleanQueue',
    'pauseQueue',
    'resumeQueue',
    'describeConnection',
    'redact',
    'QUEUE_PREFIX',
    // values and errors as JSON
    'toJson',
    'errorJson',
    // errors
    'ErrorCodes',
    'SluiceError',
    'SluiceOptionError',
    'SluiceQueueError',
    'SluiceAbortError',
    'SluiceTaskError',
    'SluiceInputError',
    'SluiceWorkerError',
    'SluiceLaneError',
    'SluiceDataCloneError',
    'SluiceStateError',
    'SluiceTimeoutError',
    'SluiceResponseError',
    'SluiceReentrantCallError',
    'SluiceJobError',
    'SluiceBridgeError',
    'SluiceJournalError',
  ],
  'sluice/demo': ['startDocServer', 'documentFor', 'generateDocument', 'createAgent', 'fetchBuffer', 'HttpStatusError'],
} as const;

let dir: string;
let project: string;
let packed: { files: string[]; version: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-package-'));
  const clone = join(dir, 'clone');
  await mkdir(clone);
  for (const entry of SOURCES) await cp(join(root, entry), join(clone, entry), { recursive: true });
  await symlink(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], clone, 180_000);
  expect(pack.code, pack.stderr).toBe(0);
  // npm prints the lifecycle scripts' output (the build) before the JSON.
  const report = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{
    filename: string;
    version: string;
    files: Array<{ path: string }>;
  }>;
  packed = { files: report[0]!.files.map((f) => f.path), version: report[0]!.version };

  project = join(dir, 'project');
  await mkdir(join(project, 'cjs'), { recursive: true });
  // The project is ESM ("type": "module"); its cjs/ folder is a CommonJS package of its own.
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, type: 'module' }));
  await writeFile(join(project, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }));
  await writeFiles(project);
  // Install scripts off: better-sqlite3's own install would compile its native addon from source
  // here (no prebuilt binary can be fetched), a minute of CI for what this checkout's install
  // already built. The same version's build is copied in instead (same Node, same ABI).
  const install = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', join(dir, report[0]!.filename)],
    project,
    180_000,
  );
  expect(install.code, install.stderr).toBe(0);
  const sqlite = (at: string): string => join(at, 'node_modules', 'better-sqlite3');
  const version = async (at: string): Promise<string> =>
    (JSON.parse(await readFile(join(sqlite(at), 'package.json'), 'utf8')) as { version: string }).version;
  expect(await version(project)).toBe(await version(root));
  await cp(join(sqlite(root), 'build'), join(sqlite(project), 'build'), { recursive: true });
}, 360_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function writeFiles(at: string): Promise<void> {
  const files: Record<string, string> = {
    // ESM: a .js job (an io stage, then a cpu stage on a worker of the project), and the same in
    // TypeScript (an .mts job, a .ts worker), with an async setup and stages.
    'job.js': `import { cpu, defineJob, io } from 'sluice';
export default defineJob({
  name: 'esm-js',
  stages: [
    io('fetch', async (n) => ({ n }), { concurrency: 2 }),
    cpu('double', new URL('./double.worker.js', import.meta.url), { threads: 1 }),
  ],
  input: [1, 2, 3, 4, 5],
});
`,
    'double.worker.js': 'export default ({ n }) => n * 2;\n',
    'job.mts': `import { cpu, defineJob, io } from 'sluice';
export default defineJob<number, number, { factor: number }>({
  name: 'esm-ts',
  setup: async () => ({ factor: 1 }),
  stages: async ({ resources }) => [
    io('fetch', async (n: number) => ({ n: n * resources.factor }), { concurrency: 2 }),
    cpu('double', new URL('./double.worker.ts', import.meta.url), { threads: 1 }),
  ],
  input: [1, 2, 3, 4, 5],
});
`,
    'double.worker.ts': 'export default ({ n }: { n: number }): number => n * 2;\n',
    // CommonJS: require('sluice'), a .js job with module.exports, a .cjs job with exports.default
    // (TypeScript's CommonJS output), and .cjs workers (module.exports, and a named export).
    'cjs/require.js': `const sluice = require('sluice');
console.log(JSON.stringify({ defineJob: typeof sluice.defineJob, createExecutor: typeof sluice.createExecutor, code: sluice.ErrorCodes.CONFIG }));
`,
    'cjs/job.js': `const { join } = require('node:path');
const { cpu, defineJob, io } = require('sluice');
module.exports = defineJob({
  name: 'cjs-js',
  stages: [
    io('fetch', async (n) => ({ n }), { concurrency: 2 }),
    cpu('double', join(__dirname, 'double.worker.cjs'), { threads: 1 }),
  ],
  input: [1, 2, 3, 4, 5],
});
`,
    'cjs/job-default.cjs': `Object.defineProperty(exports, '__esModule', { value: true });
const { join } = require('node:path');
const sluice_1 = require('sluice');
exports.default = (0, sluice_1.defineJob)({
  name: 'cjs-default',
  stages: [
    (0, sluice_1.io)('fetch', async (n) => ({ n }), { concurrency: 2 }),
    (0, sluice_1.cpu)('double', join(__dirname, 'named.worker.cjs'), { threads: 1, exportName: 'double' }),
  ],
  input: [1, 2, 3, 4, 5],
});
`,
    'cjs/named.worker.cjs': 'exports.double = function double({ n }) { return n * 2; };\n',
    'cjs/double.worker.cjs': 'module.exports = function double({ n }) { return n * 2; };\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(at, name), text);
}

/** `sluice run JOB` in the project: exit 0, every outcome completed, the values doubled. */
async function expectValues(job: string): Promise<void> {
  const result = await sluice(['run', job, '--log', 'none'], project);
  expect(result.code, `${job}: ${result.stderr}`).toBe(0);
  const lines = outcomes(result.stdout);
  expect(
    lines.every((l) => l.ok),
    job,
  ).toBe(true);
  expect(
    lines.map((l) => l.value).sort((a, b) => Number(a) - Number(b)),
    job,
  ).toEqual(VALUES);
}

describe('the packed package', () => {
  it('builds on pack: the tarball holds the CLI, the library, its types and the shipped workers', () => {
    for (const file of [
      'dist/src/cli/bin.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/worker/entry.js',
      'dist/workers/synthesize.js',
    ]) {
      expect(packed.files).toContain(file);
    }
    expect(packed.files.some((f) => f.startsWith('test/') || f.startsWith('src/'))).toBe(false);
  });

  it('exports exactly the public API, by package name, from ES modules and CommonJS alike', async () => {
    for (const [name, expected] of Object.entries(PUBLIC_VALUES)) {
      const script = `import(${JSON.stringify(name)}).then((m) => console.log(JSON.stringify(Object.keys(m).sort())))`;
      const esm = await run(process.execPath, ['--input-type=module', '-e', script], project);
      expect(esm.code, esm.stderr).toBe(0);
      expect(JSON.parse(esm.stdout), name).toEqual([...expected].sort());
    }
    const cjs = await run(
      process.execPath,
      [
        '-e',
        "console.log(JSON.stringify(Object.keys(require('sluice')).filter((k) => k !== '__esModule' && k !== 'module.exports').sort()))",
      ],
      join(project, 'cjs'),
    );
    expect(cjs.code, cjs.stderr).toBe(0);
    expect(JSON.parse(cjs.stdout)).toEqual([...PUBLIC_VALUES.sluice].sort());
  });

  it('ships the library, the CLI and the workers, and no test or bench tooling', () => {
    expect(packed.files).toContain('dist/src/demo/index.js');
    const tooling = packed.files.filter((f) => /^dist\/(test|bench)\/|\/simulator\/|^(test|bench)\//.test(f));
    expect(tooling).toEqual([]);
  });

  it('installs a working `sluice` command: `npx sluice --help`', async () => {
    // --no: the installed bin, never a download of another package by that name.
    const help = await run('npx', ['--no', '--', 'sluice', '--help'], project);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: sluice <command>');
    const version = await sluice(['--version'], project);
    expect(version.stdout.trim()).toBe(packed.version);
  });

  it('runs the demo, whose worker ships in dist/workers', async () => {
    const result = await sluice(
      ['demo', '--tasks', '6', '--size', '2048', '--latency', '1', '--threads', '1', '--out', join(dir, 'demo.jsonl')],
      project,
    );
    expect(result.code, result.stderr).toBe(0);
    expect((await readFile(join(dir, 'demo.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(6);
  });

  it('runs an ES module job (.js, and .mts through tsx) with an io stage and a worker of the project', async () => {
    for (const job of ['job.js', 'job.mts']) {
      await expectValues(job);
    }
  });

  it("loads with require('sluice') from CommonJS", async () => {
    const result = await run(process.execPath, ['cjs/require.js'], project);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ defineJob: 'function', createExecutor: 'function', code: 'ERR_SLUICE_CONFIG' });
    expect(result.stderr).not.toContain('ExperimentalWarning');
  });

  it('runs CommonJS job modules (module.exports in a .js, exports.default in a .cjs) with .cjs workers', async () => {
    for (const job of ['cjs/job.js', 'cjs/job-default.cjs']) {
      await expectValues(job);
    }
  });

  it('journals a run to a file (better-sqlite3 loads from the installed package), and refuses a plain re-run', async () => {
    const out = join(dir, 'journaled.jsonl');
    const first = await sluice(['run', 'job.js', '--output', out, '--log', 'none'], project);
    expect(first.code, first.stderr).toBe(0);
    expect(
      outcomes(await readFile(out, 'utf8'))
        .map((l) => l.value)
        .sort((a, b) => Number(a) - Number(b)),
    ).toEqual(VALUES);
    const status = await sluice(['status', '--output', out, '--json'], project);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ done: 5, failed: 0, finished: true });
    const again = await sluice(['run', 'job.js', '--output', out, '--log', 'none'], project);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--restart');
  });
});
