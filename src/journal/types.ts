/**
 * The journal's contract: what a durable run records and asks. One implementation is the local
 * SQLite journal (src/journal/); the scale-out issue implements the same `TaskLedger` over BullMQ.
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
}

/** What a run asks of the ledger of its tasks, and tells it. */
export interface TaskLedger {
  /** The epoch of this run (a fence: a commit from an older epoch is refused). */
  readonly epoch: number;
  /** The output's committed length when the ledger was opened: cut the output back to it before writing. */
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
