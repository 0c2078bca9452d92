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
import { isFingerprint } from './fingerprint.js';
import { isBusy, takeLock } from './lock.js';
import { checkRecord, journalError, lockedError, refuse } from './refusals.js';
import { beginRun } from './begin.js';
import { isPositionKey, loadDoneLog, positionOfKey, prepareCommit } from './commit.js';
import { retryCuts, retryStatus, setPhase } from './retry.js';
import { countStates, createFiles, lockPath, openForWriting, readSnapshot, suspectsIn, type TaskRow, tasksIn } from './store.js';
import type {
  Fingerprint,
  Journal,
  JournalStatus,
  LineCut,
  LockHolder,
  OpenJournalOptions,
  RetryPhase,
  Suspect,
  TaskRecord,
  TaskState,
} from './types.js';
import { SettledWindow } from './window.js';

/**
 * Opens (creating when missing: the folder 0700, its files 0600) the journal in `dir` for a run,
 * and takes its lock. Throws `SluiceJournalError`: `ERR_SLUICE_JOURNAL_LOCKED` (another run holds
 * it; `.holder`), `ERR_SLUICE_JOURNAL_EXISTS`, `ERR_SLUICE_JOURNAL_MISSING`,
 * `ERR_SLUICE_JOURNAL_CHANGED` (`.changes`), `ERR_SLUICE_JOURNAL_UNFINISHED` (a retry), or `ERR_SLUICE_JOURNAL` (unreadable or not a journal).
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
  if (!['new', 'resume', 'restart', 'retry'].includes(options.mode)) {
    throw new SluiceOptionError('mode', "'new', 'resume', 'restart' or 'retry'", options.mode);
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
  readonly resumed: boolean;
  readonly fingerprint: Fingerprint;
  readonly deadAtOpen: readonly TaskRecord[];
  readonly generation: number;
  #phase: RetryPhase | undefined;
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
  readonly #lookup: Database.Statement<[string], Pick<TaskRow, 'position' | 'state' | 'generation'>>;
  readonly #write: (batch: readonly TaskRecord[], outputLength: number, inFlight: string) => void;
  /** The newest run's epoch: read inside every commit (the fence), so prepared once. */
  readonly #latest: Database.Statement<[], number>;

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
    const { epoch, dead, state } = beginRun(db, mode, snapshot, fingerprint, startedAt);
    this.epoch = epoch;
    this.generation = state?.generation ?? 0;
    this.#phase = state?.retry_phase ?? undefined;
    this.deadAtOpen = dead;
    this.fingerprint = fingerprint;
    this.#holder = { pid: process.pid, host: hostname(), startedAt, epoch: this.epoch };
    this.#committedLength = state?.output_length ?? 0;
    // A retry runs tasks below the watermark: its window stays as the finished run left it, unused.
    this.#window = new SettledWindow(state?.watermark ?? 0);
    this.#lookup = db.prepare<[string], Pick<TaskRow, 'position' | 'state' | 'generation'>>(
      'SELECT position, state, generation FROM tasks WHERE key = ?',
    );
    this.#latest = db.prepare<[], number>('SELECT max(epoch) FROM runs').pluck();
    if (state !== undefined) loadDoneLog(db, this.#window);
    this.#write = prepareCommit(db, {
      window: this.#window,
      generation: this.generation,
      retrying: this.#phase !== undefined,
      checkEpoch: () => this.#checkEpoch(),
      fixPositions: () => this.#fixPositions(),
    });
  }

  get outputLength(): number {
    return this.#committedLength;
  }

  get retryPhase(): RetryPhase | undefined {
    return this.#phase;
  }

  isSettled(position: number, key: string): boolean {
    const window = this.#window;
    const retrying = this.#phase !== undefined;
    if (!retrying && (position < window.watermark || window.has(position))) return true;
    this.#usable();
    const found = this.#lookup.get(key);
    // No row: a retry's window (the finished run's) knows the done tasks kept in no row (commit.ts).
    if (found === undefined) return retrying && isPositionKey(key, position) && window.has(position);
    if (this.#unretried(found)) return false;
    // Settled in an earlier run, above its watermark: the window learns it, so the watermark moves on.
    if (found.position === null) this.#positionFixes.push([key, position]);
    if (!retrying) window.add(position);
    return true;
  }

  stateOf(key: string): TaskState | undefined {
    this.#usable();
    const found = this.#lookup.get(key);
    if (found === undefined) return this.#loggedDone(key) ? 'done' : undefined;
    return this.#unretried(found) ? undefined : found.state;
  }

  /** A done task kept in no row (commit.ts): its key is a position the window holds as settled. */
  #loggedDone(key: string): boolean {
    const position = positionOfKey(key);
    return position !== undefined && this.#window.has(position);
  }

  toRetry(): Iterable<TaskRecord> {
    this.#usable();
    return tasksIn(this.#db, 'failed', this.generation);
  }

  retryCuts(): Iterable<LineCut> {
    this.#usable();
    return retryCuts(this.#db, this.generation);
  }

  copied(length: number): void {
    this.#usable();
    if (!Number.isSafeInteger(length) || length < 0) throw new SluiceOptionError('length', 'an integer >= 0 (bytes)', length);
    this.#inPhase('copy', "record the retry's copy");
    this.#guarded("record the retry's copy", () => {
      this.#db
        .transaction(() => {
          this.#checkEpoch();
          setPhase(this.#db, 'copy', 'run', length);
        })
        .immediate();
    });
    this.#committedLength = length;
    this.#phase = 'run';
  }

  replaced(): void {
    this.#usable();
    this.#inPhase('replace', 'end the retry');
    this.#guarded('end the retry', () => {
      this.#db
        .transaction(() => {
          this.#checkEpoch();
          setPhase(this.#db, 'replace', null);
          this.#db.prepare('UPDATE runs SET finished = 1 WHERE epoch = ?').run(this.epoch);
        })
        .immediate();
    });
    this.#phase = undefined;
    this.#finished = true;
  }

  /** A task that failed in an earlier generation, which this run (a retry) has still to run. */
  #unretried(found: Pick<TaskRow, 'state' | 'generation'>): boolean {
    return found.state === 'failed' && found.generation < this.generation;
  }

  #inPhase(phase: RetryPhase, doing: string): void {
    if (this.#phase === phase) return;
    throw new SluiceStateError(
      ErrorCodes.CLOSED,
      `Cannot ${doing} in ${this.dir}: ${this.#phase === undefined ? 'this run makes no retry' : `the retry is in phase '${this.#phase}', not '${phase}'`}`,
    );
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
    // A key with no row may be a done task kept in no row (commit.ts).
    return suspectsIn(this.#db, this.generation)
      .filter((s) => s.row === 1 || !this.#loggedDone(s.key))
      .map(({ key, crashes }) => ({ key, crashes }));
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
    if (this.#phase !== undefined) this.#inPhase('run', 'commit');
    this.#guarded('commit', () => this.#write(batch, outputLength, JSON.stringify(inFlight)));
    this.#committedLength = outputLength;
  }

  /** For a retry: its run is over, phase `'replace'`; the run finishes at `replaced()`. */
  finish(): void {
    this.#usable();
    const retrying = this.#phase !== undefined;
    if (retrying) this.#inPhase('run', 'finish the retry');
    const left = retrying ? (retryStatus(this.#db, this.#phase, this.generation)?.left ?? 0) : 0;
    if (left > 0) {
      // Their lines were cut from the retry file: ending the retry now would lose their outcomes.
      throw new SluiceJournalError(
        ErrorCodes.JOURNAL,
        this.dir,
        `The retry in ${this.dir} cannot finish: ${left} failed tasks were not run again (the input did not give them); ` +
          'the retry stays open: run it again over the same input.',
      );
    }
    this.#guarded('finish the run', () => {
      this.#db
        .transaction(() => {
          this.#checkEpoch();
          this.#saveProgress('[]');
          if (retrying) setPhase(this.#db, 'run', 'replace');
          else this.#db.prepare('UPDATE runs SET finished = 1 WHERE epoch = ?').run(this.epoch);
        })
        .immediate();
    });
    if (retrying) this.#phase = 'replace';
    else this.#finished = true;
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
      retry: retryStatus(this.#db, this.#phase ?? null, this.generation),
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
    return this.#latest.get() as number;
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
