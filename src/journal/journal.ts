/**
 * `openJournal`: the local, SQLite implementation of the task ledger (types.ts). A run opens the
 * journal of its output (taking its lock), skips what is settled, and commits each batch of
 * outcomes with the output's new length in one transaction.
 *
 * Fences: the OS-held lock (lock.ts) keeps a second run out; the run's epoch, checked inside every
 * commit's transaction against the newest run, refuses the commits of a run that lost its lock
 * without knowing it (a network file system's locks can lapse).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { ErrorCodes, SluiceJournalError, SluiceOptionError, SluiceStateError } from '../errors.js';
import { isFingerprint, storedFingerprint } from './fingerprint.js';
import { isBusy, takeLock } from './lock.js';
import { checkRecord, journalError, lockedError, refuse } from './refusals.js';
import {
  RESET_TASKS,
  countCrashes,
  countStates,
  createFiles,
  lockPath,
  openForWriting,
  readSnapshot,
  suspectsIn,
  tasksIn,
} from './store.js';
import type { Fingerprint, JournalStatus, LockHolder, Suspect, TaskLedger, TaskRecord } from './types.js';
import { SettledWindow } from './window.js';

/** How to open a journal. */
export interface OpenJournalOptions {
  /** What the run is about: its input and job. A resume against another is refused (`ERR_SLUICE_JOURNAL_CHANGED`). */
  readonly fingerprint: Fingerprint;
  /**
   * `'new'`: a first run; refused (`ERR_SLUICE_JOURNAL_EXISTS`) when a journal of any run exists.
   * `'resume'`: continue the journal's last run; refused (`ERR_SLUICE_JOURNAL_MISSING`) when there is none.
   * `'restart'`: discard what the journal holds (if anything) and start clean.
   */
  readonly mode: 'new' | 'resume' | 'restart';
  /** Resume even though the fingerprint changed (the new one is stored). @default false */
  readonly force?: boolean | undefined;
  /** A full sync of the journal at every commit (power-loss safety, slower). @default false: synced at checkpoints */
  readonly durable?: boolean | undefined;
  /** The clock for the runs' start and end times. @default () => new Date() */
  readonly now?: (() => Date) | undefined;
}

/** An open journal: the task ledger of one run, holding the journal's lock until `close()`. */
export interface Journal extends TaskLedger {
  /** The journal's folder, absolute. */
  readonly dir: string;
  /** This run continues an earlier run's journal (mode `'resume'`). */
  readonly resumed: boolean;
  readonly fingerprint: Fingerprint;
  /** The tasks this open marked dead (in flight at their third crash): for the dead-letter file. */
  readonly deadAtOpen: readonly TaskRecord[];
  /** The dead tasks, by position (those of unknown position first). */
  dead(): Iterable<TaskRecord>;
  /**
   * The suspects of the crashes so far (types.ts: `Suspect`): keys in flight at 1 or 2 crashes and
   * not settled, the most crashes first. Give each a turn alone, committed as in flight before it
   * starts (`commit([], length, [key])`), so that a crash counts against that key only.
   */
  suspects(): Iterable<Suspect>;
}

/**
 * Opens (creating when missing: the folder 0700, its files 0600) the journal in `dir` for a run,
 * and takes its lock. Throws `SluiceJournalError`: `ERR_SLUICE_JOURNAL_LOCKED` (another run holds
 * it; `.holder`), `ERR_SLUICE_JOURNAL_EXISTS`, `ERR_SLUICE_JOURNAL_MISSING`,
 * `ERR_SLUICE_JOURNAL_CHANGED` (`.changes`), or `ERR_SLUICE_JOURNAL` (unreadable or not a journal).
 */
export function openJournal(dir: string, options: OpenJournalOptions): Journal {
  if (typeof dir !== 'string' || dir.length === 0) throw new SluiceOptionError('dir', 'a non-empty path', dir);
  if (typeof options !== 'object' || options === null) throw new SluiceOptionError('options', 'an object', options);
  if (!isFingerprint(options.fingerprint)) {
    throw new SluiceOptionError(
      'fingerprint',
      'a fingerprint ({ input?: { path, size, mtimeMs, headHash }, job: { name, module, configHash } })',
      options.fingerprint,
    );
  }
  if (options.mode !== 'new' && options.mode !== 'resume' && options.mode !== 'restart') {
    throw new SluiceOptionError('mode', "'new', 'resume' or 'restart'", options.mode);
  }
  const absolute = resolve(dir);
  try {
    createFiles(absolute);
  } catch (error) {
    throw journalError(absolute, 'create it', error);
  }
  let lock: Database.Database;
  try {
    lock = takeLock(lockPath(absolute));
  } catch (error) {
    if (isBusy(error)) throw lockedError(absolute);
    throw journalError(absolute, 'take its lock', error);
  }
  let db: Database.Database | undefined;
  try {
    db = openForWriting(absolute, options.durable === true);
    const journal = new SqliteJournal(absolute, db, lock, options);
    held.add(journal);
    return journal;
  } catch (error) {
    db?.close();
    lock.close();
    throw journalError(absolute, 'open it', error);
  }
}

/**
 * The open journals. better-sqlite3 closes a connection its object is collected with, so a journal
 * its caller dropped would let go of its lock at the next garbage collection: a lock must last
 * until `close()` or the process's end, whatever the caller still references.
 */
const held = new Set<SqliteJournal>();

class SqliteJournal implements Journal {
  readonly dir: string;
  readonly epoch: number;
  readonly outputLength: number;
  readonly resumed: boolean;
  readonly fingerprint: Fingerprint;
  readonly deadAtOpen: readonly TaskRecord[];
  readonly #db: Database.Database;
  readonly #lock: Database.Database;
  readonly #now: () => Date;
  readonly #holder: LockHolder;
  readonly #window: SettledWindow;
  /** The output's length as last committed. */
  #committedLength: number;
  #finished = false;
  #closed = false;
  /** The error of a commit that failed: the journal takes no more (its memory may be ahead of its file). */
  #broken: SluiceJournalError | undefined;
  /** Positions learnt for tasks stored without one (dead at open), written with the next commit. */
  #positionFixes: Array<readonly [string, number]> = [];
  readonly #lookup: Database.Statement<[string], number | null>;
  readonly #write: (batch: readonly TaskRecord[], outputLength: number, inFlight: string) => void;

  constructor(dir: string, db: Database.Database, lock: Database.Database, options: OpenJournalOptions) {
    this.dir = dir;
    this.#db = db;
    this.#lock = lock;
    this.#now = options.now ?? (() => new Date());
    const { mode, fingerprint } = options;
    const snapshot = readSnapshot(db);
    refuse(dir, mode, snapshot, fingerprint, options.force === true);
    this.resumed = mode === 'resume';
    const startedAt = this.#now().toISOString();
    let dead: TaskRecord[] = [];
    const begin = db.transaction(() => {
      if (mode === 'restart' && snapshot !== undefined) db.exec(RESET_TASKS);
      const last = db.prepare('SELECT max(epoch) FROM runs').pluck().get() as number | null;
      const epoch = (last ?? 0) + 1;
      db.prepare('INSERT INTO runs (epoch, pid, host, started_at, mode) VALUES (?, ?, ?, ?, ?)').run(
        epoch,
        process.pid,
        hostname(),
        startedAt,
        mode,
      );
      if (snapshot === undefined || mode !== 'resume') {
        db.prepare("INSERT OR REPLACE INTO state (id, fingerprint, output_length, watermark, in_flight) VALUES (1, ?, 0, 0, '[]')").run(
          storedFingerprint(fingerprint),
        );
      } else {
        // The last run died (it never closed): what it had in flight may have killed it. Counted
        // once: the keys in flight are cleared, so a run that dies before its first commit counts no
        // crash against tasks it never ran.
        if (snapshot.run.ended_at === null) dead = countCrashes(db, snapshot.state.in_flight);
        db.prepare("UPDATE state SET fingerprint = ?, in_flight = '[]' WHERE id = 1").run(storedFingerprint(fingerprint));
      }
      return epoch;
    });
    this.epoch = begin.immediate();
    this.deadAtOpen = dead;
    this.fingerprint = fingerprint;
    this.#holder = { pid: process.pid, host: hostname(), startedAt, epoch: this.epoch };
    const resumed = mode === 'resume' && snapshot !== undefined;
    this.outputLength = resumed ? snapshot.state.output_length : 0;
    this.#committedLength = this.outputLength;
    this.#window = new SettledWindow(resumed ? snapshot.state.watermark : 0);
    this.#lookup = db.prepare<[string], number | null>('SELECT position FROM tasks WHERE key = ?').pluck();
    this.#write = this.#writer();
  }

  isSettled(position: number, key: string): boolean {
    const window = this.#window;
    if (position < window.watermark || window.has(position)) return true;
    this.#usable();
    const found = this.#lookup.get(key);
    if (found === undefined) return false;
    // Settled in an earlier run, above its watermark: the window learns it, so the watermark moves on.
    if (found === null) this.#positionFixes.push([key, position]);
    window.add(position);
    return true;
  }

  failed(): Iterable<TaskRecord> {
    this.#usable();
    return tasksIn(this.#db, 'failed');
  }

  dead(): Iterable<TaskRecord> {
    this.#usable();
    return tasksIn(this.#db, 'dead');
  }

  suspects(): Iterable<Suspect> {
    this.#usable();
    return suspectsIn(this.#db);
  }

  commit(batch: readonly TaskRecord[], outputLength: number, inFlight: readonly string[]): void {
    this.#usable();
    if (!Array.isArray(batch)) throw new SluiceOptionError('batch', 'an array of task records', batch);
    for (let i = 0; i < batch.length; i += 1) checkRecord(batch[i], i);
    if (!Number.isSafeInteger(outputLength) || outputLength < 0) {
      throw new SluiceOptionError('outputLength', 'an integer >= 0 (bytes)', outputLength);
    }
    if (!Array.isArray(inFlight) || !inFlight.every((k) => typeof k === 'string')) {
      throw new SluiceOptionError('inFlight', 'an array of task keys (strings)', inFlight);
    }
    this.#guarded('commit', () => this.#write(batch, outputLength, JSON.stringify(inFlight)));
    this.#committedLength = outputLength;
  }

  finish(): void {
    this.#usable();
    this.#guarded('finish the run', () => {
      this.#db
        .transaction(() => {
          this.#checkEpoch();
          this.#saveProgress('[]');
          this.#db.prepare('UPDATE runs SET finished = 1 WHERE epoch = ?').run(this.epoch);
        })
        .immediate();
    });
    this.#finished = true;
  }

  status(): JournalStatus {
    this.#usable();
    return {
      ...countStates(this.#db),
      watermark: this.#window.watermark,
      outputLength: this.#committedLength,
      finished: this.#finished,
      fingerprint: this.fingerprint,
      holder: this.#holder,
      epoch: this.epoch,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    held.delete(this);
    let failure: Error | undefined;
    if (this.#broken === undefined) {
      try {
        // A run that ends in order (finished or not) clears its in-flight keys: they were not a crash.
        this.#db
          .transaction(() => {
            if (this.#latestEpoch() !== this.epoch) return;
            this.#saveProgress('[]');
            this.#db.prepare('UPDATE runs SET ended_at = ? WHERE epoch = ?').run(this.#now().toISOString(), this.epoch);
          })
          .immediate();
      } catch (error) {
        failure = journalError(this.dir, 'record the end of the run', error);
      }
    }
    try {
      this.#db.close();
    } finally {
      this.#lock.close();
    }
    if (failure !== undefined) throw failure;
  }

  /** The commit's transaction: prepared once, as a commit is the hot path. */
  #writer(): (batch: readonly TaskRecord[], outputLength: number, inFlight: string) => void {
    const db = this.#db;
    const upsert = db.prepare('INSERT OR REPLACE INTO tasks (key, position, state, attempts, cause) VALUES (?, ?, ?, ?, ?)');
    const save = db.prepare('UPDATE state SET output_length = ?, watermark = ?, in_flight = ? WHERE id = 1');
    const window = this.#window;
    const tx = db.transaction((batch: readonly TaskRecord[], outputLength: number, inFlight: string) => {
      this.#checkEpoch();
      for (const r of batch) {
        upsert.run(r.key, r.position, r.state, r.attempts, r.cause ?? null);
        window.add(r.position);
      }
      this.#fixPositions();
      save.run(outputLength, window.watermark, inFlight);
    });
    return tx.immediate;
  }

  #saveProgress(inFlight: string): void {
    this.#fixPositions();
    this.#db.prepare('UPDATE state SET watermark = ?, in_flight = ? WHERE id = 1').run(this.#window.watermark, inFlight);
  }

  #fixPositions(): void {
    if (this.#positionFixes.length === 0) return;
    const fix = this.#db.prepare('UPDATE tasks SET position = ? WHERE key = ? AND position IS NULL');
    for (const [key, position] of this.#positionFixes) fix.run(position, key);
    this.#positionFixes = [];
  }

  #latestEpoch(): number {
    return this.#db.prepare('SELECT max(epoch) FROM runs').pluck().get() as number;
  }

  #checkEpoch(): void {
    const latest = this.#latestEpoch();
    if (latest === this.epoch) return;
    throw new SluiceJournalError(
      ErrorCodes.JOURNAL,
      this.dir,
      `Run ${this.epoch} of the journal ${this.dir} was fenced: run ${latest} has taken the journal since ` +
        '(this run lost its lock, e.g. on a network file system). Stop this run: its last batch was not recorded.',
    );
  }

  /** Runs a write; a failure leaves the journal unusable (its memory may be ahead of its file). */
  #guarded(doing: string, write: () => void): void {
    try {
      write();
    } catch (error) {
      const wrapped = journalError(this.dir, doing, error);
      if (wrapped instanceof SluiceJournalError) this.#broken = wrapped;
      throw wrapped;
    }
  }

  #usable(): void {
    if (this.#closed) throw new SluiceStateError(ErrorCodes.CLOSED, `The journal ${this.dir} is closed`);
    if (this.#broken !== undefined) {
      throw new SluiceJournalError(
        ErrorCodes.JOURNAL,
        this.dir,
        `The journal ${this.dir} refused an earlier write (${this.#broken.message}); close it, and resume the run once the cause is fixed.`,
        { cause: this.#broken },
      );
    }
  }
}
