/**
 * The journal's files and schema, and the reads that both a run (journal.ts) and a status reader
 * (status.ts) make. A journal is a folder (0700) holding `journal.db` (the records, WAL mode) and
 * `lock.db` (the OS-held lock, lock.ts), both 0600; SQLite gives the `-wal` and `-shm` files the
 * mode of their database.
 *
 * Schema (user_version 2; a version 1 journal, which had no generations and no line places, is
 * brought to 2 when a run opens it: `MIGRATE_1_TO_2`):
 * - `runs`: one row per run that took the lock: its epoch (the fence), pid, host, start and end,
 *   and whether it finished. Kept across restarts, so epochs only grow.
 * - `state`: one row: the fingerprint (JSON), the output's committed length, the watermark, the
 *   keys in flight at the last commit (JSON), the output's generation, and the phase of a retry of
 *   the failed tasks in progress (retry.ts; NULL: none).
 * - `tasks`: one row per settled task, by key: position (NULL: unknown, a task marked dead at open),
 *   state, attempts, cause, the generation of the output that holds its line, and for a failed task
 *   where that line is (byte offset and size, for a retry to cut it). A partial index holds the
 *   failed and dead ones, by position; another the failed ones' lines, by offset.
 * - `crashes`: per key, how many crashes it was in flight at (3 make it dead). The keys counted and
 *   not settled since are the suspects (journal.ts: `suspects()`).
 * - `done_log`: the done tasks whose key is their position and that have no row: each batch's
 *   positions, dropped once the watermark passes them (commit.ts). `state.done_logged` counts them.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isFingerprint } from './fingerprint.js';
import type { Fingerprint, LockHolder, RetryPhase, Suspect, TaskRecord, TaskState } from './types.js';

export const JOURNAL_FILE = 'journal.db';
export const LOCK_FILE = 'lock.db';
const SCHEMA_VERSION = 2;
/** `PRAGMA application_id`: 'slcj', so that another program's SQLite file is not taken for a journal. */
const APPLICATION_ID = 0x736c636a;

export function journalPath(dir: string): string {
  return join(dir, JOURNAL_FILE);
}
export function lockPath(dir: string): string {
  return join(dir, LOCK_FILE);
}

const SCHEMA = `
  CREATE TABLE runs (
    epoch INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    finished INTEGER NOT NULL DEFAULT 0,
    mode TEXT NOT NULL
  );
  CREATE TABLE state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    output_length INTEGER NOT NULL,
    watermark INTEGER NOT NULL,
    in_flight TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    retry_phase TEXT,
    done_logged INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE tasks (
    key TEXT PRIMARY KEY,
    position INTEGER,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    cause TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    line_offset INTEGER,
    line_size INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX tasks_unsettled ON tasks (state, position) WHERE state <> 'done';
  CREATE INDEX tasks_lines ON tasks (line_offset) WHERE state = 'failed';
  CREATE TABLE crashes (key TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE done_log (seq INTEGER PRIMARY KEY, last INTEGER NOT NULL, positions TEXT NOT NULL);
  CREATE INDEX done_log_last ON done_log (last);
`;

/** The `tasks` table, emptied (a restart): dropped and made again, which is faster than deleting a million rows. */
export const RESET_TASKS = `
  DROP TABLE tasks;
  DROP TABLE crashes;
  DROP TABLE done_log;
  ${SCHEMA.slice(SCHEMA.indexOf('CREATE TABLE tasks'))}
`;

/** Version 1 to 2: the output's generation and a retry's phase; each task's generation and its line's place. */
const MIGRATE_1_TO_2 = `
  ALTER TABLE state ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE state ADD COLUMN retry_phase TEXT;
  ALTER TABLE tasks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tasks ADD COLUMN line_offset INTEGER;
  ALTER TABLE tasks ADD COLUMN line_size INTEGER;
  CREATE INDEX tasks_lines ON tasks (line_offset) WHERE state = 'failed';
  ALTER TABLE state ADD COLUMN done_logged INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE done_log (seq INTEGER PRIMARY KEY, last INTEGER NOT NULL, positions TEXT NOT NULL);
  CREATE INDEX done_log_last ON done_log (last);
`;

/** Why a database cannot be a journal, or undefined when it is one (or an empty file, `fresh`). */
function checkHeader(db: Database.Database): { fresh: boolean; version?: number; problem?: string } {
  const id = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (id === 0 && version === 0) {
    const objects = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;
    return objects === 0 ? { fresh: true } : { fresh: false, problem: 'it is not a sluice journal (another SQLite database)' };
  }
  if (id !== APPLICATION_ID) return { fresh: false, problem: 'it is not a sluice journal (another SQLite database)' };
  if (version > SCHEMA_VERSION) return { fresh: false, problem: `it was written by a newer sluice (schema ${version})` };
  return { fresh: false, version };
}

/** Opens `journal.db` for a run: WAL mode, the sync level, the schema made when the file is new. */
export function openForWriting(dir: string, durable: boolean): Database.Database {
  const db = new Database(journalPath(dir), { fileMustExist: true });
  try {
    const header = checkHeader(db);
    if (header.problem !== undefined) throw new JournalFileError(header.problem);
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode syncs at checkpoints only: a commit survives a killed process, not a power
    // loss. FULL syncs the WAL at every commit.
    db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
    if (header.fresh) {
      db.transaction(() => {
        db.exec(SCHEMA);
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    } else if (header.version === 1) {
      db.transaction(() => {
        db.exec(MIGRATE_1_TO_2);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Opens `journal.db` to read it, or returns undefined when it is missing or holds no journal yet. */
export function openForReading(dir: string): Database.Database | undefined {
  let db: Database.Database;
  try {
    db = new Database(journalPath(dir), { readonly: true, fileMustExist: true });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_CANTOPEN' || error instanceof TypeError) return undefined;
    throw error;
  }
  try {
    const header = checkHeader(db);
    if (header.problem !== undefined) throw new JournalFileError(header.problem);
    if (header.fresh) {
      db.close();
      return undefined;
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** journal.db is not a journal this sluice can use; journal.ts and status.ts say where. */
export class JournalFileError extends Error {}

export interface RunRow {
  readonly epoch: number;
  readonly pid: number;
  readonly host: string;
  readonly started_at: string;
  readonly ended_at: string | null;
  readonly finished: number;
}

export interface StateRow {
  readonly fingerprint: string;
  readonly output_length: number;
  readonly watermark: number;
  readonly in_flight: string;
  /** Undefined in a version 1 journal (read by status.ts, which does not migrate). */
  readonly generation?: number;
  readonly retry_phase?: RetryPhase | null;
}

/** What a journal holds besides its tasks: the last run and the state row; undefined when no run ever took it. */
export interface Snapshot {
  readonly run: RunRow;
  readonly state: StateRow;
  readonly fingerprint: Fingerprint;
}

export function readSnapshot(db: Database.Database): Snapshot | undefined {
  const run = db.prepare('SELECT * FROM runs ORDER BY epoch DESC LIMIT 1').get() as RunRow | undefined;
  const state = db.prepare('SELECT * FROM state WHERE id = 1').get() as StateRow | undefined;
  if (run === undefined || state === undefined) return undefined;
  let fingerprint: unknown;
  try {
    fingerprint = JSON.parse(state.fingerprint);
  } catch {
    fingerprint = undefined;
  }
  if (!isFingerprint(fingerprint)) throw new JournalFileError('its stored fingerprint is unreadable');
  return { run, state, fingerprint };
}

export function holderOf(run: RunRow): LockHolder {
  return { pid: run.pid, host: run.host, startedAt: run.started_at, epoch: run.epoch };
}

/**
 * The counts of settled tasks by state: a scan of the tasks' primary key and the done tasks kept
 * in no row (commit.ts) for `done`, of the small index for the rest.
 */
export function countStates(db: Database.Database): Record<TaskState, number> {
  // `SELECT *`: a version 1 journal (read, not migrated, by status.ts) has no done_logged.
  const state = db.prepare('SELECT * FROM state WHERE id = 1').get() as { done_logged?: number } | undefined;
  const logged = state?.done_logged ?? 0;
  const all = (db.prepare('SELECT count(*) FROM tasks').pluck().get() as number) + logged;
  const failed = db.prepare("SELECT count(*) FROM tasks WHERE state = 'failed'").pluck().get() as number;
  const dead = db.prepare("SELECT count(*) FROM tasks WHERE state = 'dead'").pluck().get() as number;
  return { done: all - failed - dead, failed, dead };
}

export interface TaskRow {
  readonly key: string;
  readonly position: number | null;
  readonly state: TaskState;
  readonly attempts: number;
  readonly cause: string | null;
  readonly generation: number;
}

function toRecord(row: TaskRow): TaskRecord {
  const { key, position, state, attempts, cause } = row;
  return cause === null ? { key, position: position ?? -1, state, attempts } : { key, position: position ?? -1, state, attempts, cause };
}

/**
 * The tasks in one state (failed or dead), by position, a page at a time: the connection is free
 * between pages, so a run may commit while it iterates (a retried task that fails again keeps its
 * position, which the iteration has passed: it is not met twice). `below`: only the tasks of an
 * output generation below it (the failed tasks a retry has still to run).
 */
export function* tasksIn(
  db: Database.Database,
  state: 'failed' | 'dead',
  below = Number.MAX_SAFE_INTEGER,
  pageSize = 512,
): Generator<TaskRecord> {
  const where = 'state = ? AND generation < ?';
  const first = db.prepare(`SELECT * FROM tasks WHERE ${where} ORDER BY position, key LIMIT ?`);
  const next = db.prepare(
    `SELECT * FROM tasks WHERE ${where} AND (position > ? OR (position = ? AND key > ?)) ORDER BY position, key LIMIT ?`,
  );
  const nulls = db.prepare(`SELECT * FROM tasks WHERE ${where} AND position IS NULL AND key > ? ORDER BY key LIMIT ?`);
  let last: TaskRow | undefined;
  for (;;) {
    let rows: TaskRow[];
    if (last === undefined) rows = first.all(state, below, pageSize) as TaskRow[];
    // NULL positions sort first: page through them by key, then on to the known positions.
    else if (last.position === null) {
      rows = nulls.all(state, below, last.key, pageSize) as TaskRow[];
      if (rows.length === 0) rows = next.all(state, below, -1, -1, '', pageSize) as TaskRow[];
    } else rows = next.all(state, below, last.position, last.position, last.key, pageSize) as TaskRow[];
    if (rows.length === 0) return;
    for (const row of rows) yield toRecord(row);
    last = rows[rows.length - 1];
  }
}

/**
 * The suspects: the keys in flight at a crash (1 or 2 of them: 3 make a key dead, and settled) that
 * have not settled since, the most crashes first. Few: the tasks in flight at a few crashes. During
 * a retry (output `generation` > 0), a task that failed in an earlier generation is not settled.
 */
export function suspectsIn(db: Database.Database, generation: number): Array<Suspect & { readonly row: 0 | 1 }> {
  return db
    .prepare(
      'SELECT key, count AS crashes, EXISTS (SELECT 1 FROM tasks t WHERE t.key = c.key) AS row FROM crashes c WHERE NOT EXISTS ' +
        "(SELECT 1 FROM tasks t WHERE t.key = c.key AND NOT (t.state = 'failed' AND t.generation < ?)) ORDER BY count DESC, key",
    )
    .all(generation) as Array<Suspect & { readonly row: 0 | 1 }>;
}

/** A key in flight at this many crashes is dead. */
const CRASHES_TO_DEAD = 3;

/** The folder (0700) and the two database files (0600, made empty: SQLite fills them), when missing. */
export function createFiles(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // 'wx' opens only a file it creates: a lock.db that exists is never opened (and closed) here,
  // which would drop a lock this process holds on it (lock.ts).
  for (const path of [journalPath(dir), lockPath(dir)]) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/**
 * Counts a crash for every key the dead run had in flight at its last commit, and marks dead (a
 * settled state) the keys at their third; returns those. The caller clears the keys in flight in
 * the same transaction: a crash is counted once, even when the next run dies before it commits.
 * During a retry (output `generation`), a task that failed in an earlier generation and crashed the
 * retry three times is marked dead too (its failed line was cut from the retry's output).
 */
export function countCrashes(db: Database.Database, inFlight: string, generation: number): TaskRecord[] {
  const keys = JSON.parse(inFlight) as unknown;
  if (!Array.isArray(keys) || keys.length === 0) return [];
  const count = db
    .prepare<[string], number>(
      'INSERT INTO crashes (key, count) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count',
    )
    .pluck();
  const bury = db.prepare(
    "INSERT INTO tasks (key, position, state, attempts, cause, generation) VALUES (?, NULL, 'dead', ?, ?, ?) ON CONFLICT (key) DO UPDATE " +
      "SET state = 'dead', attempts = excluded.attempts, cause = excluded.cause, generation = excluded.generation, line_offset = NULL, " +
      "line_size = NULL WHERE tasks.state = 'failed' AND tasks.generation < excluded.generation RETURNING position",
  );
  const dead: TaskRecord[] = [];
  for (const key of keys) {
    if (typeof key !== 'string') continue;
    const crashes = count.get(key)!;
    if (crashes < CRASHES_TO_DEAD) continue;
    const cause = `in flight at ${crashes} crashes of the run: not run again`;
    const buried = bury.get(key, crashes, cause, generation) as { position: number | null } | undefined;
    if (buried !== undefined) dead.push({ key, position: buried.position ?? -1, state: 'dead', attempts: crashes, cause });
  }
  return dead;
}
