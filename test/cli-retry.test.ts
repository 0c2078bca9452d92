/**
 * `sluice run --retry-failed` on the built executable, in child processes: after a finished run it
 * runs only the failed tasks again and replaces their lines (a new file renamed over the output:
 * each key once, the other lines byte for byte, the file's mode kept), again and again until none
 * fails; its refusals leave the output as it was; and a retry killed at any moment (kill -9 while it
 * runs, or in its copy and replace phases) goes on with `--retry-failed` or `--resume` and ends with
 * every outcome exactly once. The job: fixtures/jobs/durable-job.mjs.
 */
import { appendFileSync, chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, describe, expect, it } from 'vitest';
import { copyWithoutLines, retryFileOf } from '../src/cli/io/retry-file.js';
import { main } from '../src/cli/main.js';
import { openJournal } from '../src/journal/journal.js';
import { readJournalStatus } from '../src/journal/status.js';
import { lines, startBin, until } from './helpers/bin-child.js';
import { durableJob, useDurableRuns } from './helpers/durable-runs.js';

const durable = useDurableRuns('sluice-cli-retry-');
const { writeInput, run, exitOf } = durable;
const job = durableJob;
let dir: string;
let out: string;
let input: string;
let journal: string;
let retryFile: string;
beforeEach(() => {
  ({ dir, out, input } = durable);
  journal = `${out}.sluice`;
  retryFile = retryFileOf(journal);
});

interface Line {
  ok: boolean;
  task: { id: string; n: number };
}

/** The output's lines, parsed; asserts it ends with a whole line. */
function outcomes(file = out): Line[] {
  const text = readFileSync(file, 'utf8');
  expect(text.length === 0 || text.endsWith('\n'), 'the output ends with a whole line').toBe(true);
  return lines(file).map((l) => JSON.parse(l) as Line);
}

/** Every input task's outcome exactly once; returns the ids that failed. */
function expectEachOnce(n: number): string[] {
  const all = outcomes();
  const ids = all.map((l) => l.task.id);
  expect(ids).toHaveLength(n);
  expect(new Set(ids).size).toBe(n);
  return all.filter((l) => !l.ok).map((l) => l.task.id);
}

const idsWhere = (n: number, every: number): string[] =>
  Array.from({ length: n }, (_, i) => i)
    .filter((i) => i % every === 0)
    .map((i) => `t${i}`);

const deadLetterIds = (): string[] =>
  lines(join(journal, 'dead-letter.jsonl')).map((l) => (JSON.parse(l) as { record: { id: string } }).record.id);

describe('sluice run --retry-failed', () => {
  it('runs only the failed tasks again and replaces their lines, until none fails; then there is nothing to retry', async () => {
    writeInput(300);
    expect((await exitOf([], { SLUICE_TEST_FAIL_EVERY: '7' })).code).toBe(1);
    const firstLines = lines(out);
    const kept = firstLines.filter((l) => (JSON.parse(l) as Line).ok);
    chmodSync(out, 0o640);

    // The tasks with n % 7 == 0 run again; those with n % 14 == 0 fail again.
    const retry = run(['--retry-failed', '--log', 'json'], { SLUICE_TEST_FAIL_EVERY: '14' });
    expect(await retry.exited, retry.stderr()).toBe(1);
    const summary = JSON.parse(
      retry
        .stderr()
        .split('\n')
        .find((l) => l.startsWith('{"type":"summary"'))!,
    ) as Record<string, unknown>;
    expect(summary).toMatchObject({ tasks: 43, completed: 21, failed: 22, retry: true, resumed: false, skipped: 257, deadLetters: 22 });
    expect(expectEachOnce(300).sort()).toEqual(idsWhere(300, 14).sort());
    // The lines of the tasks that were done stay as they were, in their order, ahead of the retried ones.
    expect(lines(out).slice(0, kept.length)).toEqual(kept);
    expect(statSync(out).mode & 0o777).toBe(0o640);
    expect(existsSync(retryFile)).toBe(false);
    expect(deadLetterIds().sort()).toEqual(idsWhere(300, 14).sort());
    expect(readJournalStatus(journal)).toMatchObject({
      done: 278,
      failed: 22,
      finished: true,
      outputLength: statSync(out).size,
      retry: undefined,
    });

    const again = await exitOf(['--retry-failed']);
    expect(again.code, again.err).toBe(0);
    expect(expectEachOnce(300)).toEqual([]);
    expect(deadLetterIds()).toEqual([]);
    expect(readJournalStatus(journal)).toMatchObject({ done: 300, failed: 0, finished: true, outputLength: statSync(out).size });

    const before = readFileSync(out);
    const nothing = await exitOf(['--retry-failed']);
    expect(nothing.code, nothing.err).toBe(0);
    expect(nothing.err).toMatch(/no task of the run on .* failed \(300 done, 0 failed\): nothing to retry/);
    expect(readFileSync(out).equals(before)).toBe(true);
  }, 60_000);

  it('is refused, with the output as it was, where it cannot do what it says', async () => {
    writeInput(40);
    const none = await exitOf(['--retry-failed']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/There is no journal for .*out\.jsonl.*nothing to retry; run without --retry-failed/);
    expect(existsSync(out)).toBe(false);

    expect((await exitOf([], { SLUICE_TEST_FAIL_EVERY: '3' })).code).toBe(1);
    const before = readFileSync(out);
    // Refused before the job loads: in this process (the command's code, as the executable runs it).
    const refusals: Array<[readonly string[], RegExp]> = [
      [['--retry-failed', '--resume'], /--resume and --retry-failed exclude each other/],
      [['--retry-failed', '--restart'], /--restart and --retry-failed exclude each other/],
      [['--retry-failed', '--limit', '5'], /limit 5 \(from flag --limit\) does not go with a retry/],
      [['--force'], /--force goes with --resume or --retry-failed/],
      [['--output', '-', '--retry-failed'], /--retry-failed needs --output FILE, a regular file/],
    ];
    for (const [args, message] of refusals) {
      const err: string[] = [];
      const io = { out: () => undefined, err: (l: string) => err.push(l), env: {}, cwd: dir };
      const code = await main(['run', job, '--input', input, '--output', out, ...args], io);
      expect([code, err.join('\n')], args.join(' ')).toEqual([2, expect.stringMatching(message)]);
    }
    expect(readFileSync(out).equals(before)).toBe(true);
  }, 60_000);

  it('after a run that did not finish, says to resume it first; a retry that did not finish refuses a plain run', async () => {
    writeInput(2000);
    const crashed = run([], { SLUICE_TEST_FAIL_EVERY: '2', SLUICE_TEST_DELAY_MS: '2' });
    await until('200 lines', () => lines(out).length >= 200, crashed);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    const early = await exitOf(['--retry-failed']);
    expect(early.code).toBe(2);
    expect(early.err).toMatch(/did not finish .*finish it first with --resume, then retry its failed tasks/);

    expect((await exitOf(['--resume'], { SLUICE_TEST_FAIL_EVERY: '2', SLUICE_TEST_DELAY_MS: '0' })).code).toBe(1);
    const retry = run(['--retry-failed'], { SLUICE_TEST_DELAY_MS: '2' });
    await until('the retry under way', () => lines(retryFile).length >= 1100, retry);
    retry.child.kill('SIGKILL');
    await retry.exited;
    const before = readFileSync(out);
    const plain = await exitOf([]);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(
      /has a retry of its failed tasks that did not finish \(\d+ left to run.*--retry-failed \(or --resume\) to continue it/,
    );
    const status = startBin(['status', '--output', out], { cwd: dir });
    expect(await status.exited).toBe(0);
    expect(status.stdout()).toMatch(
      /state +retrying the failed tasks \(sluice run \.\.\. --retry-failed continues it; phase run, \d+ left, output generation 1\)/,
    );
    // The output is untouched while the retry writes its own file.
    expect(readFileSync(out).equals(before)).toBe(true);
  }, 60_000);
});

describe('a retry killed at any moment goes on, and ends with every outcome exactly once', () => {
  const TASKS = 2000;

  it('kill -9 at random moments of a retry, going on with --retry-failed and --resume in turn', async () => {
    writeInput(TASKS);
    expect((await exitOf([], { SLUICE_TEST_FAIL_EVERY: '2', SLUICE_TEST_DELAY_MS: '0' })).code).toBe(1);
    let kills = 0;
    for (let i = 0; ; i++) {
      const r = run([i % 2 === 0 ? '--retry-failed' : '--resume'], { SLUICE_TEST_DELAY_MS: '1' });
      // The retry file holds the 1000 lines kept, then the retried ones: kill past a random number of
      // those beyond where this run began (over one batch, so it has committed), wherever it is.
      const from = Math.max(lines(retryFile).length, TASKS / 2);
      const target = from + 101 + Math.floor(Math.random() * 120);
      while (r.child.exitCode === null && lines(retryFile).length < target) await sleep(5);
      if (r.child.exitCode !== null || i >= 12) {
        expect(await r.exited, r.stderr()).toBe(0);
        break;
      }
      r.child.kill('SIGKILL');
      const code = await r.exited;
      if (code !== null) {
        // It exited on its own just before the kill: it finished.
        expect(code, r.stderr()).toBe(0);
        break;
      }
      kills++;
      if (readJournalStatus(journal)?.finished === true) {
        // Killed after its end was on record: there is nothing left to resume, only the retry file
        // to put in place (or already there), as the test below pins.
        const last = await exitOf([existsSync(retryFile) ? '--retry-failed' : '--resume']);
        expect(last.code, last.err).toBe(0);
        break;
      }
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(expectEachOnce(TASKS)).toEqual([]);
    expect(existsSync(retryFile)).toBe(false);
    expect(deadLetterIds()).toEqual([]);
    expect(readJournalStatus(journal)).toMatchObject({ done: TASKS, failed: 0, dead: 0, finished: true, outputLength: statSync(out).size });
  }, 120_000);

  /** A finished run of 200 tasks where the even ones failed; the journal's fingerprint. */
  async function failedRun(): Promise<Parameters<typeof openJournal>[1]['fingerprint']> {
    writeInput(200);
    expect((await exitOf([], { SLUICE_TEST_FAIL_EVERY: '2', SLUICE_TEST_DELAY_MS: '0' })).code).toBe(1);
    return readJournalStatus(journal)!.fingerprint;
  }

  it('killed while copying: the copy is made again', async () => {
    const fingerprint = await failedRun();
    // A retry that died in its copy: the journal in phase 'copy', the retry file half written.
    openJournal(journal, { fingerprint, mode: 'retry' }).close();
    writeFileSync(retryFile, '{"ok":true,"index":0,"task":{"id":"t0"');
    const r = await exitOf(['--retry-failed']);
    expect(r.code, r.err).toBe(0);
    expect(expectEachOnce(200)).toEqual([]);
  }, 60_000);

  it('killed after its end was on record: the next run puts the retry file in place, or finds it there', async () => {
    for (const renamed of [false, true]) {
      const fingerprint = await failedRun();
      // A retry that ran every failed task and died before (or right after) the rename.
      const j = openJournal(journal, { fingerprint, mode: 'retry' });
      let length = copyWithoutLines(out, retryFile, j.outputLength, j.retryCuts(), false);
      j.copied(length);
      for (const task of Array.from(j.toRetry())) {
        const line = `${JSON.stringify({ ok: true, index: task.position, task: { id: `t${task.position}`, n: task.position } })}\n`;
        appendFileSync(retryFile, line);
        length += Buffer.byteLength(line);
        j.commit([{ key: task.key, position: task.position, state: 'done', attempts: 1 }], length, []);
      }
      j.finish();
      j.close();
      const expected = readFileSync(retryFile);
      if (renamed) renameSync(retryFile, out);
      const r = await exitOf([renamed ? '--resume' : '--retry-failed']);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/the retry of the failed tasks of .* had run them all; its output is in place now \(200 done, 0 failed\)/);
      expect(readFileSync(out).equals(expected)).toBe(true);
      expect(expectEachOnce(200)).toEqual([]);
      expect(existsSync(retryFile)).toBe(false);
      expect(readJournalStatus(journal)).toMatchObject({ done: 200, failed: 0, finished: true, retry: undefined });
      await rm(journal, { recursive: true });
      await rm(out);
    }
  }, 60_000);
});
