/**
 * Durable runs of the built `sluice` executable, in child processes: `--output FILE` journals in
 * `FILE.sluice/`; a plain re-run, an output no journal accounts for, a second run on the same
 * output and a resume against a changed input are refused (exit 2, the output byte-identical);
 * `--resume`, `--restart` and `--force` do what they say; `sluice status` reports the journal.
 * The job (fixtures/jobs/durable-job.mjs) has an io stage and a cpu stage; every wait is for a
 * condition of the files (the limits in `until` only stop a hung test).
 */
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { lines, type Running, startBin, until } from './helpers/bin-child.js';
import { durableJob, useDurableRuns } from './helpers/durable-runs.js';

const durable = useDurableRuns('sluice-cli-durable-');
const { writeInput, run, exitOf } = durable;
const job = durableJob;
let dir: string;
let out: string;
let input: string;
beforeEach(() => {
  ({ dir, out, input } = durable);
});

interface Status {
  done: number;
  failed: number;
  dead: number;
  pending: number | null;
  outputLength: number;
  finished: boolean;
  holder?: { pid: number; host: string; startedAt: string } | null;
}

async function status(): Promise<Status> {
  const r = startBin(['status', '--output', out, '--json'], { cwd: dir });
  expect(await r.exited, r.stderr()).toBe(0);
  return JSON.parse(r.stdout()) as Status;
}

/** The ids of the output's lines; asserts every line is whole JSON. */
function ids(): string[] {
  const text = readFileSync(out, 'utf8');
  expect(text.length === 0 || text.endsWith('\n'), 'the output ends with a whole line').toBe(true);
  return lines(out).map((l) => (JSON.parse(l) as { task: { id: string } }).task.id);
}

function expectEachOnce(n: number): void {
  const seen = ids();
  expect(seen).toHaveLength(n);
  expect(new Set(seen).size).toBe(n);
}

/** Starts a slow run and kills it (-9) once `atLeast` lines are out: an unfinished journal. */
async function crashedRun(atLeast: number): Promise<void> {
  const r = run([], { SLUICE_TEST_DELAY_MS: '2' });
  await until(`${atLeast} lines`, () => lines(out).length >= atLeast, r);
  r.child.kill('SIGKILL');
  await r.exited;
}

describe('sluice run --output FILE journals the run', () => {
  it('writes every outcome once, puts the failures in the dead-letter file, and status reports it', async () => {
    writeInput(300);
    const r = run(['--log', 'json'], { SLUICE_TEST_FAIL_EVERY: '50' });
    expect(await r.exited, r.stderr()).toBe(1);
    expectEachOnce(300);
    const journal = `${out}.sluice`;
    expect(statSync(journal).mode & 0o777).toBe(0o700);
    const deadLetter = join(journal, 'dead-letter.jsonl');
    expect(statSync(deadLetter).mode & 0o777).toBe(0o600);
    const dead = lines(deadLetter).map(
      (l) => JSON.parse(l) as { key: string; line: number; record: { id: string }; error: { code: string } },
    );
    expect(dead.map((d) => d.record.id)).toEqual(['t0', 't50', 't100', 't150', 't200', 't250']);
    expect(dead.every((d) => d.error.code === 'E_DURABLE_TEST' && d.line === Number(d.record.id.slice(1)) + 1)).toBe(true);
    const summary = JSON.parse(
      r
        .stderr()
        .split('\n')
        .find((l) => l.startsWith('{"type":"summary"'))!,
    ) as Record<string, unknown>;
    expect(summary).toMatchObject({ completed: 294, failed: 6, lines: 300, deadLetter, deadLetters: 6, resumed: false });

    const s = await status();
    expect(s).toMatchObject({ done: 294, failed: 6, dead: 0, pending: 0, finished: true, outputLength: statSync(out).size });
    expect(s.holder ?? undefined).toBeUndefined();
    const text = startBin(['status', `${out}.sluice`], { cwd: dir });
    expect(await text.exited).toBe(0);
    expect(text.stdout()).toMatch(/294 done, 6 failed, 0 dead, 0 pending/);
    expect(text.stdout()).toMatch(/lock\s+free/);
  });

  it('status of an output without a journal is a usage error', async () => {
    const r = startBin(['status', '--output', out], { cwd: dir });
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toContain('There is no journal');
  });

  it('a plain re-run is refused, naming --restart after a finished run, --resume and --restart after a crash; the output stays byte-identical', async () => {
    writeInput(50);
    expect((await exitOf([])).code).toBe(0);
    const finished = readFileSync(out);
    const again = await exitOf([]);
    expect(again.code).toBe(2);
    expect(again.err).toContain('finished run');
    expect(again.err).toContain('--restart');
    expect(readFileSync(out).equals(finished)).toBe(true);
    const resume = await exitOf(['--resume']);
    expect(resume.code).toBe(2);
    expect(resume.err).toContain('nothing to resume');

    writeInput(4000);
    out = join(dir, 'crashed.jsonl');
    durable.out = out;
    await crashedRun(200);
    const crashed = readFileSync(out);
    const plain = await exitOf([]);
    expect(plain.code).toBe(2);
    expect(plain.err).toContain('did not finish');
    expect(plain.err).toContain('--resume');
    expect(plain.err).toContain('--restart');
    expect(readFileSync(out).equals(crashed)).toBe(true);
    expect((await status()).finished).toBe(false);
    const resumed = await exitOf(['--resume']);
    expect(resumed.code, resumed.err).toBe(0);
    expectEachOnce(4000);
    expect(await status()).toMatchObject({ done: 4000, failed: 0, dead: 0, finished: true, outputLength: statSync(out).size });
  });

  it('an existing output that no journal accounts for is refused unless --restart; --restart starts clean', async () => {
    writeInput(40);
    writeFileSync(out, 'precious\n');
    const refused = await exitOf([]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('no journal accounts for it');
    expect(refused.err).toContain('--restart');
    expect(readFileSync(out, 'utf8')).toBe('precious\n');
    expect(existsSync(`${out}.sluice`)).toBe(false);
    expect((await exitOf(['--resume'])).code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('precious\n');

    expect((await exitOf(['--restart'])).code).toBe(0);
    expectEachOnce(40);
    expect((await exitOf(['--restart'])).code).toBe(0);
    expectEachOnce(40);
    expect(await status()).toMatchObject({ done: 40, finished: true });

    const same = startBin(['run', job, '--input', input, '--output', input, '--restart'], { cwd: dir });
    expect(await same.exited).toBe(2);
    expect(same.stderr()).toContain('is the input file');
  });

  it('--resume and --restart need an output file, and exclude each other', async () => {
    writeInput(5);
    for (const args of [['--output', '-', '--resume'], ['--resume', '--restart'], ['--force']]) {
      const r = startBin(['run', job, '--input', input, ...args], { cwd: dir });
      expect(await r.exited, args.join(' ')).toBe(2);
    }
  });
});

describe('one run writes an output at a time', () => {
  it('a second run is refused at once naming the first; after kill -9 of the first a new run takes the lock at once', async () => {
    // The first run is slow (one task at a time, 5 ms each); the one after the kill is not.
    const slow = { SLUICE_TEST_TASKS: '2000', SLUICE_TEST_DELAY_MS: '5', SLUICE_TEST_CONCURRENCY: '1' };
    const own = (args: readonly string[], env: Record<string, string> = slow): Running =>
      startBin(['run', job, '--output', out, '--log', 'none', ...args], { cwd: dir, env });
    const first = own([]);
    await until('the first lines', () => lines(out).length >= 1, first);
    for (const args of [[], ['--resume'], ['--restart']]) {
      const second = own(args);
      expect(await second.exited, args.join(' ')).toBe(2);
      expect(second.stderr()).toContain(`pid ${first.child.pid} on ${hostname()}`);
    }
    const held = await status();
    expect(first.child.exitCode).toBe(null);
    expect(held.holder?.pid).toBe(first.child.pid);
    first.child.kill('SIGKILL');
    await first.exited;
    const third = own(['--resume'], { SLUICE_TEST_TASKS: '2000', SLUICE_TEST_DELAY_MS: '0' });
    expect(await third.exited, third.stderr()).toBe(0);
    const seen = lines(out).map((l) => (JSON.parse(l) as { task: { id: string } }).task.id);
    expect(seen).toHaveLength(2000);
    expect(new Set(seen).size).toBe(2000);
  });
});

describe('a resume checks the fingerprint', () => {
  it('refuses a changed input with the reason; --force goes on', async () => {
    writeInput(3000);
    await crashedRun(150);
    const before = readFileSync(out);
    appendFileSync(input, `${JSON.stringify({ id: 't3000', n: 3000 })}\n`);
    const refused = await exitOf(['--resume']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain("the input's size");
    expect(refused.err).toContain('--force');
    expect(readFileSync(out).equals(before)).toBe(true);
    const forced = await exitOf(['--resume', '--force']);
    expect(forced.code, forced.err).toBe(0);
    expectEachOnce(3001);
  });
});
