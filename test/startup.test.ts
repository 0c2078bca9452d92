/**
 * What a start costs: BullMQ and ioredis (about a third of a second to load), prom-client and
 * log-update (about 0.1 s each) are loaded only by what uses them: a queue command, a run that
 * serves metrics, a progress bar on a terminal. A resolve hook in the child records every package
 * it resolves (test/fixtures/startup), so the test reads which were loaded, not how long it took.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killLeftovers, startBin } from './helpers/bin-child.js';

const recorder = fileURLToPath(new URL('./fixtures/startup/record-imports.mjs', import.meta.url));
const plainJob = fileURLToPath(new URL('./fixtures/jobs/plain-job.mjs', import.meta.url));
const index = new URL('../dist/src/index.js', import.meta.url).href;
const LAZY = ['bullmq', 'ioredis', 'prom-client', 'log-update'];

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-startup-'));
  file = join(dir, 'imports.txt');
});
afterEach(() => {
  killLeftovers();
  rmSync(dir, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${recorder}`.trim(),
  SLUICE_TEST_IMPORTS: file,
});

/** The packages the child resolved (their names, without subpaths). */
function packages(): Set<string> {
  const specifiers = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return new Set(
    specifiers.map((s) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/'),
    ),
  );
}

async function sluice(args: readonly string[]): Promise<Set<string>> {
  const run = startBin(args, { cwd: dir, env: env() });
  expect(await run.exited, run.stderr()).toBe(0);
  return packages();
}

describe('a start loads only what it uses', () => {
  it('importing sluice loads neither BullMQ nor ioredis', async () => {
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', `await import(${JSON.stringify(index)});`],
        { env: { ...process.env, ...env() } },
        (error) => (error ? reject(error) : resolve()),
      );
    });
    const loaded = packages();
    // The recorder works: sluice's own dependencies are there.
    expect(loaded).toContain('piscina');
    expect(loaded).toContain('p-limit');
    for (const name of LAZY) expect(loaded, name).not.toContain(name);
  });

  it('sluice run loads none of them; with --metrics-port it loads prom-client', async () => {
    const plain = await sluice(['run', plainJob, '--log', 'json']);
    expect(plain).toContain('zod');
    for (const name of LAZY) expect(plain, name).not.toContain(name);
    rmSync(file, { force: true });
    const metrics = await sluice(['run', plainJob, '--log', 'none', '--metrics-port', '0']);
    expect(metrics).toContain('prom-client');
    for (const name of ['bullmq', 'ioredis', 'log-update']) expect(metrics, name).not.toContain(name);
  });
});
