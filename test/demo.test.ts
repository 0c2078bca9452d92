/**
 * The demo job, in-process (runDemo from source, the worker loaded as TypeScript) and as the
 * built command (`node dist/src/demo/main.js`, so `npm run build` first; `npm test` does).
 * Assertions are on output contents and counters, never on timings.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { documentFor } from '../src/demo/doc-server.js';
import { runDemo } from '../src/demo/job.js';
import { ErrorCodes, SluiceOptionError } from '../src/index.js';
import type { Synthesis } from '../workers/synthesize.js';

const MAIN = fileURLToPath(new URL('../dist/src/demo/main.js', import.meta.url));

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-demo-test-'));
});

afterEach(async () => {
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

describe('runDemo', () => {
  it('synthesizes every document once, with correct digests, under the buffer bound', async () => {
    const tasks = 40;
    const sizeBytes = 16384;
    const concurrency = 4;
    const out = join(dir, 'out.jsonl');
    const summary = await runDemo({ tasks, sizeBytes, latencyMs: 2, threads: 2, concurrency, out });

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
    const bound =
      stats.stages.slice(0, -1).reduce((n, s) => n + s.capacity, 0) +
      stats.buffers.slice(0, -1).reduce((n, b) => n + b.bound, 0);
    expect(summary.bufferedBound).toBe(bound);
    expect(summary.peakBuffered).toBeGreaterThan(0);
    expect(summary.peakBuffered).toBeLessThanOrEqual(bound);
    for (const s of stats.stages) expect(s.peakActive).toBeLessThanOrEqual(s.capacity);
    for (const b of stats.buffers) expect(b.peak).toBeLessThanOrEqual(b.bound);
    expect(summary.service.requests).toBe(tasks);
    expect(summary.service.peakInFlight).toBeLessThanOrEqual(concurrency);
  });

  it('rejects a bad option with a SluiceOptionError before starting anything', async () => {
    const out = join(dir, 'never.jsonl');
    const error: unknown = await runDemo({ tasks: 0, out }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'tasks', received: 0 });
    expect(existsSync(out)).toBe(false);
  });

  it('fails fast when the output file cannot be opened', async () => {
    const error: unknown = await runDemo({ tasks: 5, out: join(dir, 'missing', 'out.jsonl') }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOENT' });
  });
});

interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runMain(args: readonly string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('node dist/src/demo/main.js', () => {
  it('runs the job, prints the summary and exits 0 by itself', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`).toBe(true);
    const out = join(dir, 'cli.jsonl');
    const args = ['--tasks', '20', '--size', '8192', '--latency', '2', '--threads', '2', '--concurrency', '4', '--out', out];
    const { code, stdout, stderr } = await runMain(args);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^\s*completed\s+20$/m);
    expect(stdout).toMatch(/^\s*failed\s+0$/m);
    expect(stdout).toMatch(/^\s*peak buffered\s+\d+ payloads \(bound \d+\)$/m);
    expect(stdout).toContain(out);
    expect((await readResults(out)).length).toBe(20);
  });

  it('exits 2 naming the flag, the expected and the received value for a bad flag', async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`).toBe(true);
    const bad = await runMain(['--tasks', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('`--tasks`');
    expect(bad.stderr).toContain('"many"');
    expect(bad.stdout).toBe('');
    const unknown = await runMain(['--bogus', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--bogus');
  });
});
