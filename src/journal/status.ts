/**
 * `readJournalStatus`: a journal as `sluice status` shows it, read without taking its lock (a run
 * may hold it and go on committing meanwhile).
 */
import { resolve } from 'node:path';
import { ErrorCodes, SluiceJournalError, SluiceOptionError, messageOf } from '../errors.js';
import { isLockHeld } from './lock.js';
import { retryStatus } from './retry.js';
import { JournalFileError, countStates, holderOf, lockPath, openForReading, readSnapshot } from './store.js';
import type { JournalStatus } from './types.js';

/**
 * The status of the journal in `dir`, or undefined when there is none (no folder, or no run ever
 * took it). Read-only: it never takes the lock. `holder` is the run holding the lock now, found by
 * trying the lock (a SHARED lock for one read): undefined when it is free, whatever the last run
 * recorded (a run killed with -9 holds nothing). Throws `SluiceJournalError`
 * (`ERR_SLUICE_JOURNAL`) when the journal is unreadable.
 */
export function readJournalStatus(dir: string): JournalStatus | undefined {
  if (typeof dir !== 'string' || dir.length === 0) throw new SluiceOptionError('dir', 'a non-empty path', dir);
  const absolute = resolve(dir);
  try {
    const db = openForReading(absolute);
    if (db === undefined) return undefined;
    try {
      // One read transaction, so the counts, the state row and the runs agree with each other.
      return db.transaction(() => {
        const snapshot = readSnapshot(db);
        if (snapshot === undefined) return undefined;
        const { run, state, fingerprint } = snapshot;
        return {
          ...countStates(db),
          watermark: state.watermark,
          outputLength: state.output_length,
          finished: run.finished === 1,
          fingerprint,
          // The newest run is the holder: a run registers its epoch right after taking the lock.
          holder: isLockHeld(lockPath(absolute)) ? holderOf(run) : undefined,
          epoch: run.epoch,
          retry: retryStatus(db, state.retry_phase, state.generation),
        };
      })();
    } finally {
      db.close();
    }
  } catch (error) {
    const what = error instanceof JournalFileError ? error.message : messageOf(error);
    throw new SluiceJournalError(ErrorCodes.JOURNAL, absolute, `The journal ${absolute} could not be read: ${what}`, {
      cause: error,
    });
  }
}
