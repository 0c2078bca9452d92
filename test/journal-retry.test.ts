/**
 * A retry of the failed tasks in the journal (src/journal/retry.ts), in one process: the phases
 * (copy, run, replace) and their order, what a retry runs and skips, the lines it cuts, a retry
 * that is killed and goes on, crashes during a retry, the refusals, and a version 1 journal.
 * The command line's side (the retry file, kill -9): cli-retry.test.ts.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceJournalError, SluiceOptionError, SluiceStateError } from '../src/errors.js';
import { openJournal } from '../src/journal/journal.js';
import { readJournalStatus } from '../src/journal/status.js';
import type { Fingerprint, TaskRecord } from '../src/journal/types.js';
import { useJournals } from './helpers/journals.js';

const fingerprint: Fingerprint = { job: { name: 'retry', module: '/jobs/retry.js', configHash: 'c1' } };
const journals = useJournals('sluice-journal-retry-', fingerprint);
const { journalOf, close, crash } = journals;
let dir: string;
beforeEach(() => {
  dir = journals.dir;
});

/** Lines of 10 bytes each: task p's line is at 10·p in the first run's output. */
const LINE = 10;
const done = (p: number): TaskRecord => ({ key: `k${p}`, position: p, state: 'done', attempts: 1 });
const failed = (p: number, offset = p * LINE): TaskRecord => ({
  key: `k${p}`,
  position: p,
  state: 'failed',
  attempts: 2,
  cause: 'E: boom',
  line: { offset, size: LINE },
});

/** A finished first run of 10 tasks, in order, where tasks 2, 5 and 7 failed. */
function finishedRun(): void {
  const j = journalOf('new');
  j.commit(
    Array.from({ length: 10 }, (_, p) => ([2, 5, 7].includes(p) ? failed(p) : done(p))),
    10 * LINE,
    [],
  );
  j.finish();
  close(j);
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

const keys = (records: Iterable<{ key: string }>): string[] => Array.from(records, (r) => r.key);

describe('the phases of a retry', () => {
  it('copies without the failed lines, runs the failed tasks, then is replaced: a new generation, finished', () => {
    finishedRun();
    const j = journalOf('retry');
    expect([j.generation, j.retryPhase, j.outputLength]).toEqual([1, 'copy', 100]);
    expect(Array.from(j.retryCuts())).toEqual([
      { key: 'k2', offset: 20, size: LINE },
      { key: 'k5', offset: 50, size: LINE },
      { key: 'k7', offset: 70, size: LINE },
    ]);
    expect(j.status()).toMatchObject({ done: 7, failed: 3, finished: false, retry: { phase: 'copy', generation: 1, left: 3 } });
    // Nothing commits before the copy is whole.
    expect(caught(() => j.commit([done(2)], 80, []))).toBeInstanceOf(SluiceStateError);
    j.copied(70);
    expect([j.retryPhase, j.outputLength]).toEqual(['run', 70]);
    expect(keys(j.toRetry())).toEqual(['k2', 'k5', 'k7']);
    // What the retry runs: the failed tasks of earlier generations; the rest is settled.
    expect([0, 2, 5, 9].map((p) => j.isSettled(p, `k${p}`))).toEqual([true, false, false, true]);
    expect([j.stateOf('k0'), j.stateOf('k2'), j.stateOf('nope')]).toEqual(['done', undefined, undefined]);

    // k2 completes now; k5 fails again (its line in the retry file at 80).
    j.commit([done(2), failed(5, 80)], 90, ['k7']);
    expect(keys(j.toRetry())).toEqual(['k7']);
    expect([j.stateOf('k2'), j.stateOf('k5'), j.isSettled(5, 'k5')]).toEqual(['done', 'failed', true]);
    expect(j.status()).toMatchObject({ done: 8, failed: 2, retry: { phase: 'run', left: 1 } });
    // finish() refuses while a failed task has not run again: its line was cut.
    const early = caught(() => j.finish());
    expect(early).toBeInstanceOf(SluiceJournalError);
    expect(early.message).toMatch(/1 failed tasks were not run again/);
    // The refusal broke nothing: the retry goes on.
    j.commit([done(7)], 100, []);
    j.finish();
    expect(j.status()).toMatchObject({ done: 9, failed: 1, finished: false, retry: { phase: 'replace', left: 0 } });
    expect(caught(() => j.commit([], 100, []))).toBeInstanceOf(SluiceStateError);
    j.replaced();
    expect(j.retryPhase).toBe(undefined);
    expect(j.status()).toMatchObject({ done: 9, failed: 1, finished: true, outputLength: 100, retry: undefined });
    close(j);
    expect(readJournalStatus(dir)).toMatchObject({ done: 9, failed: 1, finished: true, retry: undefined });

    // The next retry is generation 2, and cuts k5's line where the first retry wrote it.
    const next = journalOf('retry');
    expect(next.generation).toBe(2);
    expect(Array.from(next.retryCuts())).toEqual([{ key: 'k5', offset: 80, size: LINE }]);
  });

  it('goes on from its phase after a kill, through --resume or --retry-failed alike', () => {
    finishedRun();
    const first = journalOf('retry');
    crash(first); // killed while copying
    const second = journalOf('retry');
    expect([second.generation, second.retryPhase, second.outputLength]).toEqual([1, 'copy', 100]);
    second.copied(70);
    second.commit([done(2)], 80, ['k5']);
    crash(second); // killed while running, k5 in flight
    expect(readJournalStatus(dir)).toMatchObject({ finished: false, retry: { phase: 'run', generation: 1, left: 2 } });
    const third = journalOf('resume');
    expect([third.generation, third.retryPhase, third.outputLength]).toEqual([1, 'run', 80]);
    expect(keys(third.suspects())).toEqual(['k5']);
    expect(keys(third.toRetry())).toEqual(['k5', 'k7']);
    third.commit([done(5), done(7)], 100, []);
    third.finish();
    crash(third); // killed before the rename was on record
    const fourth = journalOf('retry');
    expect([fourth.retryPhase, fourth.outputLength]).toEqual(['replace', 100]);
    fourth.replaced();
    expect(fourth.status()).toMatchObject({ done: 10, failed: 0, finished: true });
  });

  it('marks dead a failed task that was in flight at 3 crashes of its retries', () => {
    finishedRun();
    let j = journalOf('retry');
    j.copied(70);
    for (let crashes = 1; crashes <= 3; crashes++) {
      j.commit([], 70, ['k5']);
      crash(j);
      j = journalOf('retry');
      expect(j.deadAtOpen.map((r) => `${r.key}@${r.position}`)).toEqual(crashes === 3 ? ['k5@5'] : []);
    }
    expect([j.stateOf('k5'), j.isSettled(5, 'k5')]).toEqual(['dead', true]);
    expect(keys(j.toRetry())).toEqual(['k2', 'k7']);
    expect(keys(j.dead())).toEqual(['k5']);
    expect(j.status()).toMatchObject({ done: 7, failed: 2, dead: 1, retry: { left: 2 } });
  });
});

describe('refusals', () => {
  it('refuses a retry with no journal, and after a run that did not finish', () => {
    expect(caught(() => journalOf('retry'))).toMatchObject({ code: ErrorCodes.JOURNAL_MISSING, dir });
    const j = journalOf('new');
    j.commit([failed(0)], 10, []);
    close(j);
    const unfinished = caught(() => journalOf('retry'));
    expect(unfinished).toMatchObject({ code: ErrorCodes.JOURNAL_UNFINISHED, dir });
    expect(unfinished.message).toMatch(/did not finish.*--resume/);
  });

  it('refuses a retry whose failed tasks were committed without the place of their line', () => {
    const j = journalOf('new');
    j.commit([{ key: 'k0', position: 0, state: 'failed', attempts: 1 }], 10, []);
    j.finish();
    close(j);
    const error = caught(() => journalOf('retry'));
    expect(error).toMatchObject({ code: ErrorCodes.JOURNAL });
    expect(error.message).toMatch(/1 failed tasks were committed without the place of their line/);
    // Refused before anything changed: still a finished run, no retry.
    expect(readJournalStatus(dir)).toMatchObject({ finished: true, retry: undefined });
  });

  it('names the field of a bad line place, and the phase calls out of order', () => {
    const j = journalOf('new');
    const bad = (line: unknown) => caught(() => j.commit([{ ...failed(0), line } as TaskRecord], 10, []));
    expect(bad({ offset: -1, size: 10 })).toMatchObject({
      name: 'SluiceOptionError',
      message: expect.stringMatching(/batch\[0\]\.line\.offset/),
    });
    expect(bad({ offset: 0, size: 0 })).toBeInstanceOf(SluiceOptionError);
    expect(bad(7)).toMatchObject({ message: expect.stringMatching(/batch\[0\]\.line/) });
    expect(caught(() => j.copied(0))).toBeInstanceOf(SluiceStateError);
    expect(caught(() => j.replaced())).toBeInstanceOf(SluiceStateError);
    expect(caught(() => openJournal(dir, { fingerprint, mode: 'again' as 'new' }))).toBeInstanceOf(SluiceOptionError);
  });
});

describe('a version 1 journal', () => {
  it('is brought to version 2 when a run opens it; its failed tasks, with no line places, cannot be retried', () => {
    // The schema of version 1, as the first durable runs wrote it.
    mkdirSync(dir, { mode: 0o700 });
    closeSync(openSync(join(dir, 'lock.db'), 'w', 0o600));
    const db = new Database(join(dir, 'journal.db'));
    db.exec(`
      CREATE TABLE runs (epoch INTEGER PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, started_at TEXT NOT NULL,
        ended_at TEXT, finished INTEGER NOT NULL DEFAULT 0, mode TEXT NOT NULL);
      CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint TEXT NOT NULL, output_length INTEGER NOT NULL,
        watermark INTEGER NOT NULL, in_flight TEXT NOT NULL);
      CREATE TABLE tasks (key TEXT PRIMARY KEY, position INTEGER, state TEXT NOT NULL, attempts INTEGER NOT NULL, cause TEXT) WITHOUT ROWID;
      CREATE INDEX tasks_unsettled ON tasks (state, position) WHERE state <> 'done';
      CREATE TABLE crashes (key TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
      PRAGMA application_id = ${0x736c636a};
      PRAGMA user_version = 1;
    `);
    db.prepare("INSERT INTO runs VALUES (1, 1, 'h', '2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', 1, 'new')").run();
    db.prepare("INSERT INTO state VALUES (1, ?, 20, 2, '[]')").run(JSON.stringify(fingerprint));
    db.prepare("INSERT INTO tasks VALUES ('k0', 0, 'done', 1, NULL), ('k1', 1, 'failed', 1, 'E: boom')").run();
    db.close();
    // Read as it is (status does not migrate), then opened: migrated, and the retry refused.
    expect(readJournalStatus(dir)).toMatchObject({ done: 1, failed: 1, finished: true, retry: undefined });
    expect(caught(() => journalOf('retry')).message).toMatch(/1 failed tasks were committed without the place of their line/);
    const check = new Database(join(dir, 'journal.db'), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
    // A restart of it is a version 2 journal like any other.
    const restarted = journalOf('restart');
    restarted.commit([failed(0)], 10, []);
    restarted.finish();
    close(restarted);
    expect(journalOf('retry').retryPhase).toBe('copy');
  });
});
