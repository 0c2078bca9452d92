/**
 * The journal's lock: one writer per journal, held by the operating system. It is a SQLite file of
 * its own (`lock.db`) on which the holder takes SQLite's EXCLUSIVE lock and keeps it for the
 * connection's life (`locking_mode=EXCLUSIVE`). On Unix that is a POSIX advisory lock, which the
 * kernel drops when the process dies: kill -9 never leaves a stale lock, and there is no pidfile.
 *
 * Why these steps, in this order:
 * - POSIX locks belong to the process, not to the connection; SQLite tracks the locks of every
 *   connection in the process per inode, so a second opener in the same process is refused too,
 *   and closing a probe's connection keeps the holder's lock (SQLite defers closing that descriptor).
 *   Never open a journal's lock.db with plain `fs` while a journal is open in the process: closing
 *   that descriptor would drop the process's lock.
 * - `BEGIN EXCLUSIVE` in the normal locking mode, and only then `locking_mode=EXCLUSIVE`: taken in
 *   exclusive mode from the start, two openers that race both keep their SHARED lock and both
 *   fail; in normal mode the loser lets go, so exactly one of them wins (measured: 30 of 30 races).
 * - A busy timeout of `LOCK_WAIT_MS`, not 0: a status probe holds a SHARED lock for microseconds,
 *   and an opener should not be refused for that. A real holder keeps the lock, so the second run
 *   is still refused at once (after that wait).
 * - `journal_mode=MEMORY`: the lock file never needs a rollback journal on disk.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

/** How long an opener waits for a lock that is busy before calling it held (a probe's blink). */
const LOCK_WAIT_MS = 100;

/** A SQLite error's code, when the value is one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** SQLITE_BUSY, or one of its extended codes: the lock is held. */
export function isBusy(error: unknown): boolean {
  return sqliteCode(error)?.startsWith('SQLITE_BUSY') === true;
}

/**
 * Takes the lock on `path` (an existing file) and keeps it until the returned connection closes.
 * Throws SQLite's busy error when another connection (in any process) holds it.
 */
export function takeLock(path: string): Database.Database {
  const db = new Database(path, { timeout: LOCK_WAIT_MS, fileMustExist: true });
  try {
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('COMMIT');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Whether some connection (in any process, this one included) holds the lock on `path` now. Takes
 * a SHARED lock for the time of one read, never the lock itself; false when the file is missing.
 */
export function isLockHeld(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
    return false;
  } catch (error) {
    if (isBusy(error)) return true;
    throw error;
  } finally {
    db.close();
  }
}
