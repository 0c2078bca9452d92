/**
 * The one demo: the demo job (src/demo/job.ts) run by `sluice demo` (in-process through runDemo,
 * from source with the worker loaded as TypeScript, and as the built bin, which `npm run demo`
 * runs), and by `sluice run dist/src/demo/docs-job.js` (so `npm run build` first; `npm test` does).
 * Assertions are on output contents, counters and exit codes, never on timings.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDemo } from '../src/cli/demo/run.js';
import { SluiceUsageError } from '../src/cli/errors.js';
import { documentFor } from '../src/demo/doc-server.js';
import { DEMO_SETTINGS_DEFAULTS, demoJob, demoSettingsFromEnv } from '../src/demo/job.js';
import { ErrorCodes, SluiceOptionError } from '../src/index.js';
import type { Synthesis } from '../workers/synthesize.js';
import { bin, killLeftovers, lines, startBin, until, type Running } from './helpers/bin-child.js';

const DOCS_JOB = fileURLToPath(new URL('../dist/src/demo/docs-job.js', import.meta.url));

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-demo-test-'));
});

afterEach(async () => {
  killLeftovers();
  await rm(dir, { recursive: true, force: true });
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readResults(file: string): Promise<Synthesis[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Synthesis);
}

function byId(results: readonly Synthesis[]): Synthesis[] {
  return [...results].sort((a, b) => a.id - b.id);
}

describe('runDemo: the demo job through the machinery of sluice run, in-process', () => {
  it('synthesizes every document once, with correct digests, under the buffer bound', async () => {
    const tasks = 40;
    const sizeBytes = 16384;
    const concurrency = 4;
    const out = join(dir, 'out.jsonl');
    const run = await runDemo({ tasks, sizeBytes, latencyMs: 2, threads: 2, concurrency, out });
    const { summary } = run;

    expect(run).toMatchObject({ interrupted: 0 });
    expect(run.error).toBeUndefined();
    expect(run.interruptedBy).toBeUndefined();
    expect(summary).toMatchObject({ tasks, completed: tasks, failed: 0, failures: [], output: out });
    const results = await readResults(out);
    expect(results.map((r) => r.id).sort((a, b) => a - b)).toEqual(Array.from({ length: tasks }, (_, i) => i));
    for (const r of results) {
      const doc = documentFor(r.id, sizeBytes);
      expect(r.sha256).toBe(sha256(doc));
      expect(r.bytes).toBe(doc.byteLength);
      expect(r.top.length).toBe(10);
      expect(r.distinct).toBeLessThanOrEqual(r.words);
    }
    const first = results.find((r) => r.id === 0)!;
    const counts = first.top.map((w) => w.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    const text = documentFor(0, sizeBytes).toString('utf8');
    expect(first.top[0]!.count).toBe(text.split(' ').filter((w) => w === first.top[0]!.word).length);

    const { stats } = summary;
    expect(stats.tasks).toMatchObject({ pulled: tasks, open: 0, completed: tasks, failed: 0 });
    // A cpu stage's capacity counts tasks, by its batch size B now (`batch: 'auto'`): threads when
    // B = 1, (threads + 1) x B when B > 1 (one batch more than its threads run).
    const synthesize = stats.stages[1]!;
    const batch = synthesize.batch!;
    expect(stats.stages.map((s) => [s.name, s.kind, s.capacity])).toEqual([
      ['fetch', 'io', concurrency],
      ['synthesize', 'cpu', batch.size > 1 ? 3 * batch.size : 2],
    ]);
    expect(stats.stages[0]!.peakCapacity).toBe(concurrency);
    // B moves during the run, and the capacity with it: the largest a task was admitted under
    // follows the same rule, for some B of at most 256.
    const most = synthesize.peakCapacity;
    expect(most === 2 || (most % 3 === 0 && most >= 3 * 2 && most <= 3 * 256)).toBe(true);
    expect(batch.peakOnThreads).toBeLessThanOrEqual(2 * batch.peak);
    // The summary's bound: the largest capacities and buffer bounds of the run, up to the cpu stage.
    const bound =
      stats.stages.slice(0, -1).reduce((n, s) => n + s.peakCapacity, 0) + stats.buffers.slice(0, -1).reduce((n, b) => n + b.peakBound, 0);
    expect(summary.bufferedBound).toBe(bound);
    expect(summary.peakBuffered).toBeGreaterThan(0);
    expect(summary.peakBuffered).toBeLessThanOrEqual(bound);
    for (const s of stats.stages) expect(s.peakActive).toBeLessThanOrEqual(s.peakCapacity);
    for (const b of stats.buffers) expect(b.peak).toBeLessThanOrEqual(b.peakBound);
    expect(summary.service.requests).toBe(tasks);
    expect(summary.service.peakInFlight).toBeLessThanOrEqual(concurrency);
  });

  it('rejects a bad option with a SluiceOptionError before starting anything', async () => {
    const out = join(dir, 'never.jsonl');
    const error: unknown = await runDemo({ tasks: 0, out }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'tasks', received: 0 });
    expect(existsSync(out)).toBe(false);
    const threads: unknown = await runDemo({ threads: 0, out }).catch((e: unknown) => e);
    expect(threads).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'threads', received: 0 });
    expect(existsSync(out)).toBe(false);
  });

  it('fails fast, with a SluiceUsageError naming the path, when the output file cannot be created', async () => {
    const out = join(dir, 'missing', 'out.jsonl');
    const error: unknown = await runDemo({ tasks: 5, out }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceUsageError);
    expect(error).toMatchObject({ code: ErrorCodes.USAGE });
    expect((error as Error).message).toContain(out);
  });
});

describe('the demo job (src/demo/job.ts)', () => {
  it('checks its settings, from code and from SLUICE_DEMO_*, naming the setting or the variable', () => {
    expect(() => demoJob({ sizeBytes: 0 })).toThrow(SluiceOptionError);
    expect(() => demoJob({ latencyMs: 60_001 })).toThrow(expect.objectContaining({ option: 'latencyMs', received: 60_001 }));
    expect(() => demoSettingsFromEnv({ SLUICE_DEMO_TASKS: 'many' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'SLUICE_DEMO_TASKS', received: 'many' }),
    );
    expect(() => demoSettingsFromEnv({ SLUICE_DEMO_SIZE: '0' })).toThrow(
      expect.objectContaining({ option: 'SLUICE_DEMO_SIZE', received: 0 }),
    );
    expect(demoSettingsFromEnv({ SLUICE_DEMO_TASKS: '7', SLUICE_DEMO_LATENCY_MS: '' })).toEqual({ ...DEMO_SETTINGS_DEFAULTS, tasks: 7 });
  });

  it('declares service docs and its tasks as its input', () => {
    const job = demoJob({ tasks: 3 });
    expect(job.name).toBe('docs-demo');
    expect(Object.keys(job.services ?? {})).toEqual(['docs']);
    expect([...(job.input as () => Iterable<number>)()]).toEqual([0, 1, 2]);
  });
});

function start(args: readonly string[], env: Record<string, string> = {}): Running {
  return startBin(args, { cwd: dir, env });
}

describe('sluice demo (the built bin, as npm run demo runs it)', () => {
  it('is what npm run demo runs', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.demo).toBe('npm run build && node dist/src/cli/bin.js demo');
    expect(existsSync(bin), `${bin} is missing: run \`npm run build\` first`).toBe(true);
  });

  it('runs the job, prints the summary and exits 0 by itself', async () => {
    const out = join(dir, 'cli.jsonl');
    const args = ['demo', '--tasks', '20', '--size', '8192', '--latency', '2', '--threads', '2', '--concurrency', '4', '--out', out];
    const run = start(args);
    const code = await run.exited;
    expect({ code, stderr: run.stderr() }).toEqual({ code: 0, stderr: '' });
    const stdout = run.stdout();
    expect(stdout).toMatch(
      /^sluice demo: 20 documents of 8192 bytes, service latency 2 ms, fetch concurrency 4, 2 synthesize thread\(s\)$/m,
    );
    expect(stdout).toMatch(/^\s*completed\s+20$/m);
    expect(stdout).toMatch(/^\s*failed\s+0$/m);
    expect(stdout).toMatch(/^\s*peak buffered\s+\d+ payloads \(bound \d+\)$/m);
    expect(stdout).toMatch(/^\s*service requests\s+20 \(peak [1-4] in flight\)$/m);
    expect(stdout).toContain(out);
    expect(stdout.trimEnd().split('\n')).toHaveLength(11);
    const results = await readResults(out);
    expect(results.map((r) => r.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (const r of results) expect(r.sha256).toBe(sha256(documentFor(r.id, 8192)));
  });

  it('exits 2 naming the flag, the expected and the received value for a bad flag', async () => {
    const bad = start(['demo', '--tasks', 'many']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('`--tasks`');
    expect(bad.stderr()).toContain('"many"');
    expect(bad.stderr()).toContain('Usage: sluice demo');
    expect(bad.stdout()).toBe('');
    const unknown = start(['demo', '--bogus', '1']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr()).toContain('--bogus');
    const positional = start(['demo', 'extra']);
    expect(await positional.exited).toBe(2);
  });

  it('exits 2 naming the path when --out cannot be created, before starting anything', async () => {
    const out = join(dir, 'missing', 'out.jsonl');
    const run = start(['demo', '--tasks', '5', '--out', out]);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain(`sluice demo: Cannot create output file ${out}`);
    expect(run.stdout()).toBe('');
  });

  it('with --out - writes the output lines on stdout and the summary on stderr', async () => {
    const run = start(['demo', '--tasks', '4', '--size', '1024', '--latency', '1', '--threads', '1', '--out', '-']);
    expect(await run.exited).toBe(0);
    const written = run
      .stdout()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Synthesis);
    expect(written.map((r) => r.id).sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    for (const r of written) expect(r.sha256).toBe(sha256(documentFor(r.id, 1024)));
    expect(run.stderr()).toMatch(/^\s*completed\s+4$/m);
    expect(run.stderr()).toMatch(/^\s*output\s+-$/m);
    expect(existsSync(join(dir, '-'))).toBe(false);
  });

  it('prints its usage with -h and exits 0', async () => {
    const run = start(['demo', '-h']);
    expect(await run.exited).toBe(0);
    for (const flag of ['--tasks', '--latency', '--size', '--threads', '--concurrency', '--out']) expect(run.stdout()).toContain(flag);
  });

  it('on SIGINT stops pulling, finishes and writes what is in flight, prints the summary and exits 130', async () => {
    const out = join(dir, 'interrupted.jsonl');
    const args = ['demo', '--tasks', '1000000', '--size', '1024', '--latency', '5', '--threads', '1', '--concurrency', '2', '--out', out];
    const run = start(args);
    await until('5 documents are written', () => lines(out).length >= 5, run);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toContain('sluice: SIGINT: no new tasks');
    expect(run.stderr()).toContain('sluice demo: interrupted by SIGINT: 0 started task(s) aborted');
    const completed = Number(/^\s*completed\s+(\d+)$/m.exec(run.stdout())?.[1]);
    expect(run.stdout()).toMatch(/^\s*failed\s+0$/m);
    const written = lines(out).map((line) => JSON.parse(line) as Synthesis);
    expect(written).toHaveLength(completed);
    expect(completed).toBeGreaterThanOrEqual(5);
    expect(completed).toBeLessThan(1_000_000);
    for (const r of written) expect(r.sha256).toBe(sha256(documentFor(r.id, 1024)));
  });
});

describe('sluice run dist/src/demo/docs-job.js: the same job', () => {
  it('writes, as outcome values, the syntheses sluice demo writes with the same settings', async () => {
    const demoOut = join(dir, 'demo.jsonl');
    const runOut = join(dir, 'run.jsonl');
    const demo = start([
      'demo',
      '--tasks',
      '8',
      '--size',
      '4096',
      '--latency',
      '1',
      '--threads',
      '1',
      '--concurrency',
      '2',
      '--out',
      demoOut,
    ]);
    expect(await demo.exited).toBe(0);
    const run = start(['run', DOCS_JOB, '--threads', '1', '--io', 'docs=2', '--output', runOut, '--log', 'none'], {
      SLUICE_DEMO_TASKS: '8',
      SLUICE_DEMO_SIZE: '4096',
      SLUICE_DEMO_LATENCY_MS: '1',
    });
    expect({ code: await run.exited, stderr: run.stderr() }).toEqual({ code: 0, stderr: '' });
    const outcomes = lines(runOut).map((line) => JSON.parse(line) as { ok: boolean; task: number; value: Synthesis });
    expect(outcomes.every((o) => o.ok && o.task === o.value.id)).toBe(true);
    expect(byId(outcomes.map((o) => o.value))).toEqual(byId(await readResults(demoOut)));
  });

  it('refuses a bad SLUICE_DEMO_* value with exit 2, naming the variable, before opening the output', async () => {
    const out = join(dir, 'kept.jsonl');
    await writeFile(out, 'kept\n');
    // --restart: an output no journal accounts for may be replaced, but only once the job has loaded.
    const run = start(['run', DOCS_JOB, '--output', out, '--restart'], { SLUICE_DEMO_TASKS: '0' });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('`SLUICE_DEMO_TASKS`');
    expect(readFileSync(out, 'utf8')).toBe('kept\n');
  });
});
