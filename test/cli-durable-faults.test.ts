/**
 * Fault injection on durable runs of the built `sluice` executable: kill -9 at random moments of a
 * 5,000-task run (an io stage and a cpu stage), resuming each time; a full disk (a file size limit:
 * writes past it fail with EFBIG); and interrupts (two SIGINTs abort what is in flight), which are
 * no crash. After each, `--resume` ends with every input key in the output exactly once, no
 * partial line, and the journal agreeing with the output.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bin, killLeftovers, lines, startBin, until, type Running } from './helpers/bin-child.js';

const job = fileURLToPath(new URL('./fixtures/jobs/durable-job.mjs', import.meta.url));
const TASKS = 5000;
const KILLS = 20;

let dir: string;
let out: string;
let input: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-durable-faults-'));
  out = join(dir, 'out.jsonl');
  input = join(dir, 'in.jsonl');
  writeFileSync(input, Array.from({ length: TASKS }, (_, i) => `${JSON.stringify({ id: `t${i}`, n: i })}\n`).join(''));
});
afterEach(async () => {
  killLeftovers();
  await rm(dir, { recursive: true, force: true });
});

function run(args: readonly string[], env: Record<string, string> = {}): Running {
  return startBin(['run', job, '--input', input, '--output', out, '--log', 'none', ...args], { cwd: dir, env });
}

interface Status {
  done: number;
  failed: number;
  dead: number;
  outputLength: number;
  finished: boolean;
}

async function status(): Promise<Status> {
  const r = startBin(['status', '--output', out, '--json'], { cwd: dir });
  expect(await r.exited, r.stderr()).toBe(0);
  return JSON.parse(r.stdout()) as Status;
}

/** Every input key in the output exactly once, no partial line, and the journal agreeing with it. */
async function expectExactlyOnce(failed = 0): Promise<void> {
  const text = readFileSync(out, 'utf8');
  expect(text.endsWith('\n'), 'no partial last line').toBe(true);
  const seen = lines(out).map((l) => (JSON.parse(l) as { task: { id: string } }).task.id);
  expect(seen).toHaveLength(TASKS);
  expect(new Set(seen).size).toBe(TASKS);
  expect(await status()).toMatchObject({ done: TASKS - failed, failed, dead: 0, finished: true, outputLength: statSync(out).size });
}

/** Bytes of the output now (0 when missing). */
function size(): number {
  try {
    return statSync(out).size;
  } catch {
    return 0;
  }
}

describe('kill -9 and resume', () => {
  it(`kill -9 at ${KILLS} random moments of a ${TASKS}-task run, resuming each time: every outcome exactly once`, async () => {
    const env = { SLUICE_TEST_FAIL_EVERY: '97' };
    let kills = 0;
    let finished = false;
    for (let i = 0; i <= KILLS && !finished; i++) {
      const r = run(i === 0 ? [] : ['--resume'], env);
      if (i === KILLS) {
        expect(await r.exited, r.stderr()).toBe(1);
        finished = true;
        break;
      }
      // Past a random number of lines beyond what the resume started from (over one batch, so this
      // run has committed at least once), then kill -9 wherever it is: mid-write, mid-commit, idle.
      const from = lines(out).length;
      const target = from + 101 + Math.floor(Math.random() * 160);
      while (r.child.exitCode === null && lines(out).length < target) await sleep(5);
      if (r.child.exitCode !== null) {
        expect(r.child.exitCode, r.stderr()).toBe(1); // the run finished before this kill
        finished = true;
        break;
      }
      r.child.kill('SIGKILL');
      expect(await r.exited).toBe(null);
      kills++;
    }
    expect(finished).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(5);
    await expectExactlyOnce(Math.ceil(TASKS / 97));
    const deadLetter = lines(join(`${out}.sluice`, 'dead-letter.jsonl')).map(
      (l) => (JSON.parse(l) as { record: { id: string } }).record.id,
    );
    expect(deadLetter).toHaveLength(Math.ceil(TASKS / 97));
    expect(new Set(deadLetter).size).toBe(deadLetter.length);
  }, 120_000);
});

describe('a poison task', () => {
  /** Runs, then resumes after each crash until a run ends: its exit code, and the crashes. */
  async function runToEnd(
    env: Record<string, string>,
    maxCrashes: number,
    flags: string[] = [],
  ): Promise<{ code: number; crashes: number }> {
    for (let crashes = 0; ; crashes++) {
      const r = run(crashes === 0 ? flags : ['--resume', ...flags], env);
      const code = await r.exited;
      if (code !== null) return { code, crashes };
      expect(crashes, `more than ${maxCrashes} crashes`).toBeLessThan(maxCrashes);
    }
  }

  /** The poison task alone is dead, with its dead-letter line; every other key has its outcome line exactly once. */
  async function expectPoisonAloneDead(failed: number): Promise<void> {
    const s = await status();
    expect(s).toMatchObject({ done: TASKS - failed - 1, failed, dead: 1, finished: true, outputLength: size() });
    expect(s.done + s.failed + s.dead).toBe(TASKS);
    // Every other key's outcome line, exactly once.
    const seen = lines(out).map((l) => (JSON.parse(l) as { task: { id: string } }).task.id);
    expect(seen).toHaveLength(TASKS - 1);
    expect(new Set(seen).size).toBe(TASKS - 1);
    expect(seen).not.toContain('t1234');
    const deadLetter = lines(join(`${out}.sluice`, 'dead-letter.jsonl')).map(
      (l) => JSON.parse(l) as { key: string; stage: string; record: { id: string } },
    );
    expect(deadLetter).toHaveLength(failed + 1);
    expect(deadLetter.filter((d) => d.stage === 'journal')).toEqual([
      expect.objectContaining({ key: '1234', record: { id: 't1234', n: 1234 } }),
    ]);
    expect(new Set([...seen, ...deadLetter.map((d) => d.record.id)]).size).toBe(TASKS);
  }

  it('alone is marked dead after 3 crashes, not run again, and goes to the dead-letter file with its record', async () => {
    // The first crash counts against every key in flight at its last commit; the resumes give each
    // of those suspects its turn alone, so the next two crashes count against the poison task only.
    const env = { SLUICE_TEST_POISON: '1234', SLUICE_TEST_DELAY_MS: '0', SLUICE_TEST_FAIL_EVERY: '97' };
    expect(await runToEnd(env, 3)).toEqual({ code: 1, crashes: 3 }); // 1: some tasks failed on purpose
    await expectPoisonAloneDead(Math.ceil(TASKS / 97));
  }, 60_000);

  it('that kills its run at once, before a batch records it in flight, is caught at its next turn, and alone', async () => {
    // Crash 1 is on no record (it came before a commit with the task in flight); the resume commits
    // each of its first tasks as in flight when pulled (crash 2 counts against the few in flight
    // then), and the poison task dies alone at crashes 3 and 4.
    const env = { SLUICE_TEST_POISON: '1234', SLUICE_TEST_POISON_MS: '0', SLUICE_TEST_DELAY_MS: '0' };
    expect(await runToEnd(env, 4)).toEqual({ code: 0, crashes: 4 });
    await expectPoisonAloneDead(0);
  }, 60_000);

  it('the same with --durable, whose commits hold up to 1,000 outcomes: the resume records as many first tasks as a commit and the window can hide', async () => {
    const env = { SLUICE_TEST_POISON: '1234', SLUICE_TEST_POISON_MS: '0', SLUICE_TEST_DELAY_MS: '0' };
    expect(await runToEnd(env, 4, ['--durable'])).toEqual({ code: 0, crashes: 4 });
    await expectPoisonAloneDead(0);
  }, 60_000);
});

describe('interrupted is not failed', () => {
  it('tasks aborted by a second SIGINT get no line, are no crash, and a resume runs them', async () => {
    for (let i = 0; i < 3; i++) {
      const r = run(i === 0 ? [] : ['--resume'], { SLUICE_TEST_DELAY_MS: '2' });
      const from = lines(out).length;
      await until('more lines', () => lines(out).length >= from + 150, r);
      r.child.kill('SIGINT');
      await until('the drain notice', () => r.stderr().includes('no new tasks'), r);
      r.child.kill('SIGINT');
      expect(await r.exited, r.stderr()).toBe(130);
      const s = await status();
      expect(s).toMatchObject({ dead: 0, failed: 0, finished: false, outputLength: size() });
      expect(s.done).toBe(lines(out).length);
    }
    const last = run(['--resume']);
    expect(await last.exited, last.stderr()).toBe(0);
    await expectExactlyOnce();
  }, 60_000);
});

describe('the exit code of a resume', () => {
  it('is 1 when the runs before it failed tasks, though none fails in it: the output holds their failures', async () => {
    // n % 97 === 0 fails, task 0 among the first; the first run stops (SIGINT: drain) after 200 lines.
    const first = run([], { SLUICE_TEST_FAIL_EVERY: '97', SLUICE_TEST_DELAY_MS: '2' });
    await until('200 lines', () => lines(out).length >= 200, first);
    first.child.kill('SIGINT');
    expect(await first.exited, first.stderr()).toBe(130);
    const before = await status();
    expect(before.failed).toBeGreaterThan(0);
    const last = run(['--resume']); // nothing fails in this run
    expect(await last.exited, last.stderr()).toBe(1);
    await expectExactlyOnce(before.failed);
  }, 60_000);
});

describe('a full disk', () => {
  it('fails the run clearly with the journal intact; --resume with space completes it exactly once', async () => {
    // ulimit -f is in 1024-byte blocks: the output (about 1.2 KB a line) fills 1 MiB in ~800 lines.
    const limited = spawn(
      'bash',
      [
        '-c',
        `trap '' XFSZ; ulimit -f 1024; exec "${process.execPath}" "${bin}" "$@"`,
        'sluice',
        'run',
        job,
        '--input',
        input,
        '--output',
        out,
        '--log',
        'none',
      ],
      { cwd: dir, env: { ...process.env, SLUICE_TEST_PAD: '1100', SLUICE_TEST_DELAY_MS: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    limited.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => limited.on('close', resolve));
    expect(code).not.toBe(0);
    expect(code).not.toBe(null);
    expect(err).toMatch(/Cannot write output file .*(EFBIG|file too large)/i);
    expect(err).toContain('--resume');
    const s = await status();
    expect(s.finished).toBe(false);
    expect(s.outputLength).toBeLessThanOrEqual(size());
    expect(s.done).toBeGreaterThan(0);
    expect(s.done).toBeLessThan(TASKS);

    const resumed = run(['--resume'], { SLUICE_TEST_PAD: '1100', SLUICE_TEST_DELAY_MS: '0' });
    expect(await resumed.exited, resumed.stderr()).toBe(0);
    await expectExactlyOnce();
  }, 60_000);
});
