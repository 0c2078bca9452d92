/**
 * The built `sluice` executable in child processes: a full run of a TypeScript job module, and
 * graceful shutdown. The job logs `start N` / `done N` synchronously, so the test knows exactly
 * which tasks were pulled and which completed when the signal arrived, and checks the output file
 * against that: nothing pulled is lost after one SIGINT, nothing completed is lost after two.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killLeftovers, lines, startBin, until, type Running } from './helpers/bin-child.js';

const slowJob = fileURLToPath(new URL('./fixtures/jobs/slow-job.ts', import.meta.url));
const doubleJob = fileURLToPath(new URL('./fixtures/jobs/double-job.ts', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-process-'));
});
afterEach(async () => {
  killLeftovers();
  await rm(dir, { recursive: true, force: true });
});

function start(args: readonly string[], env: Record<string, string> = {}): Running {
  return startBin(args, { cwd: dir, env });
}

function logged(file: string, kind: 'start' | 'done'): number[] {
  return lines(file)
    .filter((l) => l.startsWith(`${kind} `))
    .map((l) => Number(l.slice(kind.length + 1)))
    .sort((a, b) => a - b);
}

function outputIndexes(file: string): Array<{ index: number; ok: boolean }> {
  return lines(file).map((l) => JSON.parse(l) as { index: number; ok: boolean });
}

describe('the sluice executable', () => {
  it('runs a TypeScript job module end to end', async () => {
    const out = join(dir, 'out.jsonl');
    const run = start(['run', doubleJob, '--output', out, '--log', 'json']);
    expect(await run.exited).toBe(0);
    const outcomes = outputIndexes(out);
    expect(outcomes).toHaveLength(20);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(run.stderr()).toContain('"type":"summary"');
  });

  it('on a first SIGINT stops pulling, finishes every pulled task, writes it, prints the summary and exits 130', async () => {
    const out = join(dir, 'out.jsonl');
    const log = join(dir, 'tasks.log');
    const run = start(['run', slowJob, '--output', out, '--log', 'json', '--log-interval', '3600000'], { SLUICE_TEST_LOG: log });
    await until('10 outcomes are written', () => lines(out).length >= 10, run);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const started = logged(log, 'start');
    const written = outputIndexes(out);
    // Every task that was pulled (started) finished and is in the output, and nothing else is.
    expect(written.every((o) => o.ok)).toBe(true);
    expect(written.map((o) => o.index).sort((a, b) => a - b)).toEqual(started);
    expect(logged(log, 'done')).toEqual(started);
    expect(started.length).toBeGreaterThanOrEqual(10);
    const stderr = run.stderr();
    expect(stderr).toContain('SIGINT');
    expect(stderr).toMatch(/"type":"summary".*"interruptedBy":"SIGINT"/);
  });

  it('on a second SIGINT aborts what is in flight and exits 130, keeping every completed outcome', async () => {
    const out = join(dir, 'out.jsonl');
    const log = join(dir, 'tasks.log');
    // Tasks 12 and on never finish: after the first signal the run waits on them until the second.
    const run = start(['run', slowJob, '--output', out, '--log', 'json', '--log-interval', '3600000'], {
      SLUICE_TEST_LOG: log,
      SLUICE_TEST_HANG_FROM: '12',
    });
    await until('tasks 0-11 are written and 12-15 hang', () => lines(out).length >= 12 && logged(log, 'start').length >= 16, run);
    run.child.kill('SIGINT');
    await until('the first signal is acknowledged', () => run.stderr().includes('finishing the ones in flight'), run);
    const pulledAtFirst = logged(log, 'start');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const done = logged(log, 'done');
    const written = outputIndexes(out);
    expect(done).toEqual(Array.from({ length: 12 }, (_, n) => n));
    expect(written.map((o) => o.index).sort((a, b) => a - b)).toEqual(done);
    expect(written.every((o) => o.ok)).toBe(true);
    // Nothing was pulled after the first signal.
    expect(logged(log, 'start')).toEqual(pulledAtFirst);
    // It exited through the summary, not through the forced exit.
    expect(run.stderr()).toMatch(/"type":"summary".*"interruptedBy":"SIGINT"/);
  });

  it('serves Prometheus metrics on 127.0.0.1 during a run (--metrics-port 0)', async () => {
    const log = join(dir, 'tasks.log');
    const run = start(['run', slowJob, '--output', join(dir, 'out.jsonl'), '--log', 'none', '--metrics-port', '0'], {
      SLUICE_TEST_LOG: log,
    });
    await until('the metrics address is printed', () => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(run.stderr()), run);
    await until('some tasks are done', () => logged(log, 'done').length >= 5, run);
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(run.stderr())![1]!;
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^sluice_stage_capacity\{stage="work",kind="io"\} 4$/m);
    expect(text).toMatch(/^sluice_outcomes_total\{result="completed"\} \d+$/m);
    expect(text).toContain('process_resident_memory_bytes');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(130);
  });

  it('says how to fix a .ts job module that Node loads as CommonJS (no "type": "module")', async () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user', type: 'commonjs' }));
    const index = new URL('../dist/src/index.js', import.meta.url).href;
    writeFileSync(
      join(dir, 'job.ts'),
      `import { defineJob, io } from ${JSON.stringify(index)};\n` +
        `export default defineJob({ stages: () => [io('a', (x: unknown) => x, { concurrency: 1 })], input: [1] });\n`,
    );
    const run = start(['run', 'job.ts', '--log', 'none']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('"type": "module"');
    expect(run.stderr()).toContain('.mts');
  });
});
