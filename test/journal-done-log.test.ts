/**
 * The done tasks the journal keeps in no row (src/journal/commit.ts): a done task whose key is its
 * position is recorded by the watermark and the done log, not by a row of its own. Its state is
 * still known after a resume (settled, `stateOf`, the counts, no suspect), the log is dropped as the
 * watermark passes it, and every other record (job keys, failures, a failure done at last, a
 * position past the window's span) keeps its row.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { readJournalStatus } from '../src/journal/status.js';
import type { Fingerprint, TaskRecord } from '../src/journal/types.js';
import { useJournals } from './helpers/journals.js';

const fingerprint: Fingerprint = { job: { name: 'log', module: '/jobs/log.js', configHash: 'c1' } };
const journals = useJournals('sluice-journal-done-log-', fingerprint);
const { journalOf, close, crash } = journals;
let dir: string;
beforeEach(() => {
  dir = journals.dir;
});

const done = (p: number, key = String(p)): TaskRecord => ({ key, position: p, state: 'done', attempts: 1 });
const failed = (p: number): TaskRecord => ({
  key: String(p),
  position: p,
  state: 'failed',
  attempts: 1,
  cause: 'E',
  line: { offset: p, size: 1 },
});
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Rows of the tasks table and of the done log, read beside the open journal. */
function rows(): { tasks: string[]; log: number } {
  const db = new Database(join(dir, 'journal.db'), { readonly: true });
  try {
    const tasks = db.prepare('SELECT key FROM tasks ORDER BY key').pluck().all() as string[];
    const log = db.prepare('SELECT count(*) FROM done_log').pluck().get() as number;
    return { tasks, log };
  } finally {
    db.close();
  }
}

describe('done tasks kept in no row', () => {
  it('records them by the watermark and the log, which goes as the watermark passes it', () => {
    const j = journalOf('new');
    // 5..9 done while 0..4 are still in flight: logged above the watermark.
    j.commit(
      range(5, 10).map((p) => done(p)),
      50,
      ['0', '1', '2', '3', '4'],
    );
    expect(rows()).toEqual({ tasks: [], log: 1 });
    expect(j.status()).toMatchObject({ done: 5, watermark: 0 });
    close(j);

    const resumed = journalOf('resume');
    expect(range(0, 10).map((p) => resumed.isSettled(p, String(p)))).toEqual([
      ...range(0, 5).map(() => false),
      ...range(5, 10).map(() => true),
    ]);
    expect([resumed.stateOf('7'), resumed.stateOf('2'), resumed.stateOf('07')]).toEqual(['done', undefined, undefined]);
    resumed.commit([...range(0, 4).map((p) => done(p)), failed(4)], 100, []);
    // The watermark passed every logged position: the log is empty; the failure has its row.
    expect(rows()).toEqual({ tasks: ['4'], log: 0 });
    expect(resumed.status()).toMatchObject({ done: 9, failed: 1, watermark: 10 });
    resumed.finish();
    close(resumed);
    expect(readJournalStatus(dir)).toMatchObject({ done: 9, failed: 1, watermark: 10, finished: true });
  });

  it('does not take a task for a suspect of a crash once it is done in no row', () => {
    const first = journalOf('new');
    first.commit([done(0)], 1, ['1', '2']);
    crash(first);
    const second = journalOf('resume');
    expect(Array.from(second.suspects(), (s) => s.key)).toEqual(['1', '2']);
    second.commit([done(2)], 2, ['1']);
    crash(second);
    const third = journalOf('resume');
    expect([rows().tasks, Array.from(third.suspects(), (s) => `${s.key}×${s.crashes}`)]).toEqual([[], ['1×2']]);
  });

  it('keeps a row for job keys, a failure done at last, and a position past the window', () => {
    const j = journalOf('new');
    j.commit([done(0, 'doc-a'), failed(1)], 10, []);
    j.commit([done(1)], 20, []);
    j.commit([done(2 ** 24 + 64)], 30, []);
    expect(rows().tasks).toEqual(['1', String(2 ** 24 + 64), 'doc-a']);
    expect(j.status()).toMatchObject({ done: 3, failed: 0 });
    close(j);
    const resumed = journalOf('resume');
    expect([resumed.isSettled(0, 'doc-a'), resumed.isSettled(1, '1'), resumed.isSettled(2 ** 24 + 64, String(2 ** 24 + 64))]).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('is settled in a retry of the failures, which runs only the failed tasks', () => {
    const j = journalOf('new');
    j.commit([done(0), failed(1), done(2)], 3, []);
    j.finish();
    close(j);
    const retry = journalOf('retry');
    retry.copied(2);
    expect([0, 1, 2].map((p) => retry.isSettled(p, String(p)))).toEqual([true, false, true]);
    expect([retry.stateOf('0'), retry.stateOf('1')]).toEqual(['done', undefined]);
    expect(retry.status()).toMatchObject({ done: 2, failed: 1 });
    // A restart forgets them all.
    close(retry);
    const restarted = journalOf('restart');
    expect([restarted.isSettled(0, '0'), restarted.status().done, rows().log]).toEqual([false, 0, 0]);
  });
});
