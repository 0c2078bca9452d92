/**
 * The journal store in one process: open, commit and resume; the watermark and lookups; the modes
 * and their refusals; fingerprints; file modes; the lock within a process; the epoch fence; corrupt
 * files. Across processes (kill -9, a second run, poison tasks): journal-process.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceJournalError, SluiceOptionError, SluiceStateError } from '../src/errors.js';
import { compareFingerprints, fingerprintInput } from '../src/journal/fingerprint.js';
import { openJournal } from '../src/journal/journal.js';
import { readJournalStatus } from '../src/journal/status.js';
import type { Fingerprint, Journal, TaskRecord } from '../src/journal/types.js';
import { SettledWindow } from '../src/journal/window.js';
import { useJournals } from './helpers/journals.js';

const job = { name: 'double', module: '/jobs/double.js', configHash: 'sha256:aaaa' };
const fingerprint: Fingerprint = { input: { path: '/data/in.jsonl', size: 120, mtimeMs: 1_700_000_000_000, headHash: 'sha256:1111' }, job };
const clock = () => new Date('2025-01-02T03:04:05.000Z');
const journals = useJournals('sluice-journal-', fingerprint, { now: clock });
const { journalOf, close, crash } = journals;
let root: string;
let dir: string;
beforeEach(() => {
  ({ root, dir } = journals);
});

function done(position: number, key = String(position)): TaskRecord {
  return { key, position, state: 'done', attempts: 1 };
}

function failed(position: number, cause = 'ERR_X: boom'): TaskRecord {
  return { key: String(position), position, state: 'failed', attempts: 3, cause };
}

function caught(fn: () => unknown): SluiceJournalError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceJournalError);
    return error as SluiceJournalError;
  }
  throw new Error('expected a SluiceJournalError');
}

describe('open, commit, resume', () => {
  it('records batches with the output length, and a resume sees exactly what was committed', () => {
    const first = journalOf('new');
    expect(first.epoch).toBe(1);
    expect(first.outputLength).toBe(0);
    expect(first.resumed).toBe(false);
    first.commit([done(0), done(1), failed(2)], 30, ['3', '4']);
    first.commit([done(4), done(3)], 50, ['5']);
    expect(first.status()).toMatchObject({ done: 4, failed: 1, dead: 0, watermark: 5, outputLength: 50, finished: false, epoch: 1 });
    close(first);

    const second = journalOf('resume');
    expect(second).toMatchObject({ epoch: 2, outputLength: 50, resumed: true, deadAtOpen: [] });
    for (let p = 0; p < 5; p += 1) expect(second.isSettled(p, String(p))).toBe(true);
    expect(second.isSettled(5, '5')).toBe(false);
    expect([...second.failed()]).toEqual([failed(2)]);
    second.commit([done(5)], 60, []);
    second.finish();
    expect(second.status()).toMatchObject({ done: 5, failed: 1, watermark: 6, outputLength: 60, finished: true, epoch: 2 });
    close(second);

    expect(readJournalStatus(dir)).toEqual({
      done: 5,
      failed: 1,
      dead: 0,
      watermark: 6,
      outputLength: 60,
      finished: true,
      fingerprint,
      holder: undefined,
      epoch: 2,
    });
  });

  it('keeps the watermark exact under out-of-order batches, and finds the tasks above it by key', () => {
    const first = journalOf('new');
    first.commit([done(2, 'c'), done(5, 'f')], 10, ['a', 'b']);
    expect(first.status().watermark).toBe(0);
    first.commit([done(0, 'a')], 20, ['b']);
    expect(first.status().watermark).toBe(1);
    first.commit([done(1, 'b')], 30, []);
    expect(first.status().watermark).toBe(3);
    close(first);

    const second = journalOf('resume');
    expect(second.status().watermark).toBe(3);
    expect(second.isSettled(3, 'd')).toBe(false);
    expect(second.isSettled(4, 'e')).toBe(false);
    // Above the watermark: by key (the position is the caller's: a task met where the run is now).
    expect(second.isSettled(5, 'f')).toBe(true);
    second.commit([done(3, 'd'), done(4, 'e')], 40, []);
    expect(second.status().watermark).toBe(6);
    close(second);
    expect(readJournalStatus(dir)?.watermark).toBe(6);
  });

  it('replaces a retried failure and iterates the failures by position, each once even while committing', () => {
    const j = journalOf('new');
    j.commit([failed(0), done(1), failed(2), failed(3), failed(4)], 10, []);
    const seen: number[] = [];
    for (const record of j.failed()) {
      seen.push(record.position);
      // A retry: 2 succeeds, the others fail again (same key, same position: not met twice).
      j.commit([record.position === 2 ? done(2) : failed(record.position, 'again')], 10, []);
    }
    expect(seen).toEqual([0, 2, 3, 4]);
    expect([...j.failed()].map((r) => [r.position, r.cause])).toEqual([
      [0, 'again'],
      [3, 'again'],
      [4, 'again'],
    ]);
    expect(j.status()).toMatchObject({ done: 2, failed: 3 });
  });

  it('iterates more failures than a page', () => {
    const j = journalOf('new');
    const batch = Array.from({ length: 1300 }, (_, p) => failed(p));
    j.commit(batch, 0, []);
    expect([...j.failed()].map((r) => r.position)).toEqual(batch.map((r) => r.position));
  });

  it('works with the full sync per commit (durable)', () => {
    const j = journalOf('new', { durable: true });
    j.commit([done(0)], 5, []);
    close(j);
    expect(journalOf('resume', { durable: true }).outputLength).toBe(5);
  });

  it('refuses bad records and options with SluiceOptionError, and stays usable', () => {
    const j = journalOf('new');
    expect(() => j.commit([{ key: 'a', position: -1, state: 'done', attempts: 1 }], 0, [])).toThrow(SluiceOptionError);
    expect(() => j.commit([{ key: 'a', position: 0, state: 'lost' as 'done', attempts: 1 }], 0, [])).toThrow(SluiceOptionError);
    expect(() => j.commit([done(0)], 1.5, [])).toThrow(SluiceOptionError);
    j.commit([done(0)], 1, []);
    expect(j.status().done).toBe(1);
    expect(() => openJournal(join(root, 'x'), { fingerprint, mode: 'again' as 'new' })).toThrow(SluiceOptionError);
    expect(() => openJournal(join(root, 'x'), { fingerprint: { job: { name: 'x' } } as Fingerprint, mode: 'new' })).toThrow(
      SluiceOptionError,
    );
  });

  it('is closed once, and refuses use after (SluiceStateError)', () => {
    const j = journalOf('new');
    close(j);
    j.close();
    expect(() => j.commit([], 0, [])).toThrow(SluiceStateError);
    expect(() => j.status()).toThrow(expect.objectContaining({ code: ErrorCodes.CLOSED }));
  });
});

describe('modes', () => {
  it("'new' refuses an existing journal, saying whether its run finished", () => {
    const j = journalOf('new');
    j.commit([done(0)], 1, []);
    close(j);
    const unfinished = caught(() => journalOf('new'));
    expect(unfinished).toMatchObject({ code: ErrorCodes.JOURNAL_EXISTS, finished: false, dir });
    expect(unfinished.message).toContain(dir);
    expect(unfinished.message).toContain('--resume');

    const again = journalOf('resume');
    again.finish();
    close(again);
    expect(caught(() => journalOf('new'))).toMatchObject({ code: ErrorCodes.JOURNAL_EXISTS, finished: true });
  });

  it("'resume' refuses where there is no journal", () => {
    expect(caught(() => journalOf('resume'))).toMatchObject({ code: ErrorCodes.JOURNAL_MISSING, dir });
    expect(readJournalStatus(dir)).toBeUndefined();
  });

  it("'restart' discards what the journal holds and starts clean, with the next epoch", () => {
    const j = journalOf('new');
    j.commit([done(0), failed(1)], 20, ['2']);
    close(j);
    const restarted = journalOf('restart', { fingerprint: { job } });
    expect(restarted).toMatchObject({ epoch: 2, outputLength: 0, resumed: false });
    expect(restarted.isSettled(0, '0')).toBe(false);
    expect(restarted.status()).toMatchObject({ done: 0, failed: 0, dead: 0, watermark: 0, outputLength: 0, fingerprint: { job } });
    expect([...restarted.failed()]).toEqual([]);
  });

  it("'resume' refuses a changed input or job, saying what changed, unless forced (which stores the new fingerprint)", () => {
    close(journalOf('new'));
    const changed: Fingerprint = { input: { ...fingerprint.input!, size: 96 }, job: { ...job, configHash: 'sha256:bbbb' } };
    const error = caught(() => journalOf('resume', { fingerprint: changed }));
    expect(error.code).toBe(ErrorCodes.JOURNAL_CHANGED);
    expect(error.changes).toEqual([
      { field: 'input.size', was: 120, now: 96 },
      { field: 'job.configHash', was: 'sha256:aaaa', now: 'sha256:bbbb' },
    ]);
    expect(error.message).toContain("the input's size (bytes): 120 -> 96");
    expect(error.message).toContain('--force');

    close(journalOf('resume', { fingerprint: changed, force: true }));
    expect(readJournalStatus(dir)?.fingerprint).toEqual(changed);
    close(journalOf('resume', { fingerprint: changed }));
  });
});

describe('the lock and the fence, in one process', () => {
  it('refuses a second open in the same process, naming this process; status shows the holder while it holds', () => {
    const j = journalOf('new');
    const error = caught(() => journalOf('resume'));
    expect(error.code).toBe(ErrorCodes.JOURNAL_LOCKED);
    expect(error.holder).toEqual({ pid: process.pid, host: expect.any(String), startedAt: '2025-01-02T03:04:05.000Z', epoch: 1 });
    expect(error.message).toContain(`pid ${process.pid}`);
    expect(readJournalStatus(dir)?.holder?.pid).toBe(process.pid);
    // The refused opener and the status probe closed their connections: the lock still holds.
    expect(caught(() => journalOf('resume')).code).toBe(ErrorCodes.JOURNAL_LOCKED);
    close(j);
    expect(readJournalStatus(dir)?.holder).toBeUndefined();
    expect(journalOf('resume').epoch).toBe(2);
  });

  it('refuses the commits of a run fenced by a newer epoch, and stays refused', () => {
    const j = journalOf('new');
    j.commit([done(0)], 1, []);
    // A newer run registered while this one still thinks it holds the lock (a lapsed network lock).
    const other = new Database(join(dir, 'journal.db'));
    other.prepare("INSERT INTO runs (epoch, pid, host, started_at, mode) VALUES (2, 1, 'elsewhere', 'now', 'resume')").run();
    other.close();
    const fenced = caught(() => j.commit([done(1)], 2, []));
    expect(fenced.code).toBe(ErrorCodes.JOURNAL);
    expect(fenced.message).toContain('fenced');
    expect(caught(() => j.commit([done(2)], 3, [])).code).toBe(ErrorCodes.JOURNAL);
    close(j);
    expect(readJournalStatus(dir)).toMatchObject({ done: 1, outputLength: 1, epoch: 2 });
  });
});

describe('crashes and suspects', () => {
  const suspects = (j: Journal): string[] => Array.from(j.suspects(), (s) => `${s.key}×${s.crashes}`);
  it('makes the keys in flight at a crash suspects until they settle; a crash while one runs alone counts against it alone', () => {
    const first = journalOf('new');
    first.commit([done(0)], 10, ['1', '2', '3']);
    crash(first);
    const second = journalOf('resume');
    expect([second.deadAtOpen, suspects(second)]).toEqual([[], ['1×1', '2×1', '3×1']]);
    // Key 1 runs alone, on record as in flight before it starts, and the run dies of it: twice.
    second.commit([], 10, ['1']);
    crash(second);
    const third = journalOf('resume');
    expect(suspects(third)).toEqual(['1×2', '2×1', '3×1']);
    third.commit([], 10, ['1']);
    crash(third);
    const fourth = journalOf('resume');
    expect(fourth.deadAtOpen).toEqual([expect.objectContaining({ key: '1', state: 'dead', attempts: 3 })]);
    expect(fourth.isSettled(1, '1')).toBe(true);
    // The bystanders were in flight at one crash only: they run, each alone, and settle.
    expect(suspects(fourth)).toEqual(['2×1', '3×1']);
    fourth.commit([], 10, ['2']);
    fourth.commit([done(2)], 20, ['3']);
    expect(suspects(fourth)).toEqual(['3×1']);
    fourth.commit([done(3)], 30, []);
    expect(suspects(fourth)).toEqual([]);
    expect(fourth.status()).toMatchObject({ done: 3, dead: 1, watermark: 4 });
  });

  it('counts a crash once (runs that die before their first commit count none), no crash for a run that ends in order', () => {
    const first = journalOf('new');
    first.commit([done(0)], 10, ['a', 'b']);
    crash(first);
    for (let i = 0; i < 3; i += 1) {
      const resumed = journalOf('resume');
      expect(resumed.deadAtOpen).toEqual([]);
      crash(resumed); // at once: it ran nothing
    }
    const last = journalOf('resume');
    expect([last.deadAtOpen, suspects(last), last.status().dead]).toEqual([[], ['a×1', 'b×1'], 0]);
    // A run that ends in order counts no crash; a restart forgets the suspects.
    last.commit([], 10, ['c']);
    close(last);
    const again = journalOf('resume');
    expect(suspects(again)).toEqual(['a×1', 'b×1']);
    close(again);
    expect(suspects(journalOf('restart'))).toEqual([]);
  });
});

describe('files', () => {
  it('makes the folder 0700 and its files 0600, and records no environment', async () => {
    process.env.SLUICE_JOURNAL_TEST_SECRET = 'hunter2-secret';
    try {
      const j = journalOf('new');
      j.commit([done(0)], 1, ['1']);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      for (const file of ['journal.db', 'journal.db-wal', 'journal.db-shm', 'lock.db']) {
        expect((await stat(join(dir, file))).mode & 0o777, file).toBe(0o600);
      }
      close(j);
      const db = new Database(join(dir, 'journal.db'), { readonly: true });
      const dump = JSON.stringify([db.prepare('SELECT * FROM runs').all(), db.prepare('SELECT * FROM state').all()]);
      db.close();
      expect(dump).not.toContain('hunter2-secret');
    } finally {
      delete process.env.SLUICE_JOURNAL_TEST_SECRET;
    }
  });

  it('refuses a damaged journal or another SQLite database with ERR_SLUICE_JOURNAL', async () => {
    close(journalOf('new'));
    await writeFile(join(dir, 'journal.db'), 'this is not a database, not even close to one'.repeat(200));
    expect(caught(() => journalOf('resume')).code).toBe(ErrorCodes.JOURNAL);
    expect(caught(() => readJournalStatus(dir)).code).toBe(ErrorCodes.JOURNAL);

    const foreign = join(root, 'foreign');
    await mkdir(foreign);
    const db = new Database(join(foreign, 'journal.db'));
    db.exec('CREATE TABLE t (x)');
    db.close();
    const error = caught(() => openJournal(foreign, { fingerprint, mode: 'restart' }));
    expect(error.code).toBe(ErrorCodes.JOURNAL);
    expect(error.message).toContain('not a sluice journal');
  });
});

describe('fingerprints', () => {
  it('fingerprints an input file by absolute path, size, mtime and the SHA-256 of its first 64 KiB', async () => {
    const file = join(root, 'in.jsonl');
    const body = Buffer.alloc(100_000, 'x');
    await writeFile(file, body);
    await utimes(file, 1_700_000_000, 1_700_000_000);
    const input = await fingerprintInput(file);
    const expected = createHash('sha256').update(body.subarray(0, 65_536)).digest('hex');
    expect(input).toEqual({ path: file, size: 100_000, mtimeMs: 1_700_000_000_000, headHash: `sha256:${expected}` });
    await writeFile(file, '');
    expect((await fingerprintInput(file)).headHash).toBe(`sha256:${createHash('sha256').digest('hex')}`);
  });

  it('lists the differences of two fingerprints, field by field', () => {
    expect(compareFingerprints(fingerprint, fingerprint)).toEqual([]);
    expect(compareFingerprints(fingerprint, { job: { ...job, name: 'triple', module: '/jobs/triple.js' } })).toEqual([
      { field: 'input', was: '/data/in.jsonl', now: undefined },
      { field: 'job.name', was: 'double', now: 'triple' },
      { field: 'job.module', was: '/jobs/double.js', now: '/jobs/triple.js' },
    ]);
    const moved = { ...fingerprint, input: { ...fingerprint.input!, path: '/data/other.jsonl', mtimeMs: 1, headHash: 'sha256:2222' } };
    expect(compareFingerprints(fingerprint, moved).map((c) => c.field)).toEqual(['input.path', 'input.mtimeMs', 'input.headHash']);
  });
});

describe('the settled window', () => {
  it.each([
    { name: 'in order', from: 0, add: [0, 1, 2, 3], watermark: 4 },
    { name: 'a gap holds it', from: 0, add: [1, 2, 3], watermark: 0 },
    { name: 'the gap filled', from: 0, add: [1, 2, 3, 0], watermark: 4 },
    { name: 'below it: nothing', from: 10, add: [3, 4], watermark: 10 },
    { name: 'across words', from: 30, add: [...Array.from({ length: 100 }, (_, i) => 131 - i)], watermark: 30 },
    { name: 'across words, filled', from: 30, add: [...Array.from({ length: 101 }, (_, i) => 130 - i)], watermark: 131 },
    { name: 'far ahead, then caught up', from: 0, add: [5000, ...Array.from({ length: 5000 }, (_, i) => i)], watermark: 5001 },
    { name: 'beyond its span: not remembered', from: 0, add: [2 ** 25, ...Array.from({ length: 10 }, (_, i) => i)], watermark: 10 },
  ])('$name', ({ from, add, watermark }) => {
    const window = new SettledWindow(from);
    for (const p of add) window.add(p);
    expect(window.watermark).toBe(watermark);
    for (const p of add) expect(window.has(p)).toBe(p < 2 ** 24);
  });

  it('advances over a million positions settled out of order in a sliding window', () => {
    const window = new SettledWindow(0);
    for (let base = 0; base < 1_000_000; base += 64) for (let i = 63; i >= 0; i -= 1) window.add(base + i);
    expect(window.watermark).toBe(1_000_000);
  });
});
