/**
 * The journal's contract: what a durable run records and asks, implemented by the local SQLite
 * journal (src/journal/). A queue (src/queue/) keeps the same promises in its own shape: a claim is
 * the input the executor pulls, each outcome is stored once under the claim's lock, and the
 * queue's kept jobs are what is done; it needs no output length, since Redis holds the results.
 *
 * Write order, for exactly-once output: the output's bytes of a batch first (one write), then
 * `commit(batch, outputLength)`, one transaction holding the batch's outcomes and the output's new
 * length. On open, the output is cut back to the last committed length (a torn line, or the lines
 * of a batch whose commit never happened, go), and the settled tasks are skipped.
 */

/** A task's final state: its stages completed it, failed it (after their retries), or it was dead (in flight at 3 crashes). */
export type TaskState = 'done' | 'failed' | 'dead';

/** One settled task, as a batch commits it. */
export interface TaskRecord {
  /** The task's key: the job's `key(task)`, or its input position as a decimal string. */
  readonly key: string;
  /**
   * The task's position in the input, from 0. A task marked dead at open (its key was in flight at
   * 3 crashes, and in-flight tasks are recorded by key) reads -1 until a run meets its key again.
   */
  readonly position: number;
  readonly state: TaskState;
  /** Attempts made, the first included. */
  readonly attempts: number;
  /** Why it failed (an error's code and message); undefined when done. */
  readonly cause?: string | undefined;
  /**
   * Where its outcome line is in the output the run writes (bytes), kept for a failed task: a
   * retry of the failed tasks cuts these lines from the output it rewrites. A failed task
   * committed without it cannot be retried.
   */
  readonly line?: { readonly offset: number; readonly size: number } | undefined;
}

/**
 * The phase of a retry of the failed tasks (journal.ts, mode `'retry'`). The retry writes a new
 * output (the retry file) and renames it over the old one at the end:
 * - `'copy'`: the retry file is being made: the old output without the failed tasks' lines.
 * - `'run'`: the copy is whole (its length committed); the failed tasks run, their outcome lines
 *   appended to the retry file as a run appends to its output.
 * - `'replace'`: every failed task ran; the retry file is to be renamed over the output.
 */
export type RetryPhase = 'copy' | 'run' | 'replace';

/** A retry of the failed tasks in progress, as `sluice status` shows it. */
export interface RetryStatus {
  readonly phase: RetryPhase;
  /** The generation of the output the retry writes (the first retry writes 1). */
  readonly generation: number;
  /** Failed tasks the retry has still to run. */
  readonly left: number;
}

/**
 * A suspect of a crash: a task whose key was in flight at a crash of the run (at the last commit
 * before it) and that is not settled. A run should give each suspect a turn alone, with nothing
 * else in flight and a commit recording it in flight before it starts: a crash then counts against
 * that key only, so a poison task reaches its third crash on its own while the tasks that were in
 * flight beside it (bystanders) settle as they complete.
 */
export interface Suspect {
  readonly key: string;
  /** The crashes it was in flight at (1 or 2: at 3 it is dead, no suspect). */
  readonly crashes: number;
}

/**
 * One difference between a journal's stored fingerprint and the one a resume gives: `field` is
 * `input` (one side has an input file, the other the job's own input), `input.path`,
 * `input.size`, `input.mtimeMs`, `input.headHash`, `job.name`, `job.module` or `job.configHash`.
 */
export interface FingerprintChange {
  readonly field: string;
  /** The stored value (undefined: absent). */
  readonly was: string | number | undefined;
  /** The given value (undefined: absent). */
  readonly now: string | number | undefined;
}

/** What a journal is about: a run of one job over one input, into one output. A resume against another is refused. */
export interface Fingerprint {
  /** The input file: absolute path, size, mtime (ms), and a hash of its first 64 KiB. Undefined: the job's own input. */
  readonly input?: { readonly path: string; readonly size: number; readonly mtimeMs: number; readonly headHash: string } | undefined;
  /** The job: its name and a hash of its module and of the config the run resolved (never secrets: no environment). */
  readonly job: { readonly name: string; readonly module: string; readonly configHash: string };
}

/** Who holds a journal's lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** The run's epoch: each run that takes the lock gets the next one. */
  readonly epoch: number;
}

/** A journal as `sluice status` shows it. */
export interface JournalStatus {
  readonly done: number;
  readonly failed: number;
  readonly dead: number;
  /** Every task below this position is settled. */
  readonly watermark: number;
  /** The output's committed length in bytes. */
  readonly outputLength: number;
  /** The last run went through its whole input and closed the journal. */
  readonly finished: boolean;
  readonly fingerprint: Fingerprint;
  /** The run holding the lock now; undefined when none does. */
  readonly holder: LockHolder | undefined;
  /** The last run's epoch. */
  readonly epoch: number;
  /** A retry of the failed tasks in progress (unfinished); undefined when there is none. */
  readonly retry: RetryStatus | undefined;
}

/** What a run asks of the ledger of its tasks, and tells it. */
export interface TaskLedger {
  /** The epoch of this run (a fence: a commit from an older epoch is refused). */
  readonly epoch: number;
  /** The output's committed length: at open, cut the output back to it before writing. */
  readonly outputLength: number;
  /** Whether the task is settled (done, failed or dead): a resume skips it. */
  isSettled(position: number, key: string): boolean;
  /** The failed tasks, for a retry of them. */
  failed(): Iterable<TaskRecord>;
  /**
   * Records a batch after its output bytes were written: the outcomes, the output's new length, and
   * the keys in flight now (a key in flight at 3 crashes is marked dead). One transaction.
   */
  commit(batch: readonly TaskRecord[], outputLength: number, inFlight: readonly string[]): void;
  /** The run went through its whole input: a plain re-run is then a new run, not a resume. */
  finish(): void;
  status(): JournalStatus;
  /** Releases the lock. Idempotent. */
  close(): void;
}

/** A failed task's line in the output, which a retry's copy leaves out. */
export interface LineCut {
  readonly key: string;
  readonly offset: number;
  readonly size: number;
}

/** How to open a journal. */
export interface OpenJournalOptions {
  /** What the run is about: its input and job. A resume against another is refused (`ERR_SLUICE_JOURNAL_CHANGED`). */
  readonly fingerprint: Fingerprint;
  /**
   * `'new'`: a first run; refused (`ERR_SLUICE_JOURNAL_EXISTS`) when a journal of any run exists.
   * `'resume'`: continue the journal's last run; refused (`ERR_SLUICE_JOURNAL_MISSING`) when there is none.
   * `'restart'`: discard what the journal holds (if anything) and start clean.
   * `'retry'`: run again the failed tasks of a finished run (retry.ts), or go on with a retry in
   * progress; refused (`ERR_SLUICE_JOURNAL_UNFINISHED`) after a run that did not finish. A
   * `'resume'` of a journal with a retry in progress goes on with the retry too.
   */
  readonly mode: 'new' | 'resume' | 'restart' | 'retry';
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
  /** The generation of the output this run writes: 0, and one more for each retry of the failed tasks. */
  readonly generation: number;
  /**
   * The phase of the retry this run makes (mode `'retry'`, or a resume of a retry), or undefined
   * when it makes none. `'copy'`: write the retry file (the output without `retryCuts()`), then
   * `copied(length)`; `'run'`: run `toRetry()`, committing as any run does (the retry file is the
   * output now); `'replace'`, after `finish()`: rename the retry file over the output, then
   * `replaced()`.
   */
  readonly retryPhase: RetryPhase | undefined;
  /**
   * A task's state as this run sees it; undefined when the run has it still to run (not on record,
   * or failed in an earlier generation and not retried yet).
   */
  stateOf(key: string): TaskState | undefined;
  /** The failed tasks a retry has still to run, by position. Empty when the run is no retry. */
  toRetry(): Iterable<TaskRecord>;
  /** The lines a retry's copy leaves out (the failed tasks of earlier generations), by offset. */
  retryCuts(): Iterable<LineCut>;
  /** The retry file is whole, `length` bytes: the retry's run begins (phase `'run'`), its output the retry file. */
  copied(length: number): void;
  /** The retry file has replaced the output: the retry is over, and the run finished. */
  replaced(): void;
  /** The dead tasks, by position (those of unknown position first). */
  dead(): Iterable<TaskRecord>;
  /**
   * The suspects of the crashes so far (types.ts: `Suspect`): keys in flight at 1 or 2 crashes and
   * not settled, the most crashes first. Give each a turn alone, committed as in flight before it
   * starts (`commit([], length, [key])`), so that a crash counts against that key only.
   */
  suspects(): Iterable<Suspect>;
}
