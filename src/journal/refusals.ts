/**
 * What a journal refuses, and how it says so: a lock another run holds, a mode that does not fit
 * what the folder holds, a changed fingerprint, a damaged file, a malformed record.
 */
import { ErrorCodes, SluiceJournalError, SluiceOptionError, messageOf } from '../errors.js';
import { compareFingerprints, describeChanges } from './fingerprint.js';
import { type RunRow, type Snapshot, JournalFileError, holderOf, openForReading } from './store.js';
import type { Fingerprint, LockHolder, TaskRecord } from './types.js';

const STATES = new Set(['done', 'failed', 'dead']);

/** The refusal of an opener while another run holds the lock, naming that run (read from the journal). */
export function lockedError(dir: string): SluiceJournalError {
  let holder: LockHolder | undefined;
  try {
    const db = openForReading(dir);
    if (db !== undefined) {
      try {
        const run = db.prepare('SELECT * FROM runs ORDER BY epoch DESC LIMIT 1').get() as RunRow | undefined;
        holder = run === undefined ? undefined : holderOf(run);
      } finally {
        db.close();
      }
    }
  } catch {
    holder = undefined; // the holder's identity is a courtesy: the refusal stands without it
  }
  const who =
    holder === undefined ? 'another run' : `run ${holder.epoch} (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`;
  return new SluiceJournalError(
    ErrorCodes.JOURNAL_LOCKED,
    dir,
    `The journal ${dir} is locked by ${who}: one run writes an output at a time. Wait for that run to end, or stop it.`,
    { holder },
  );
}

/** A failure of the journal's files as a `SluiceJournalError` (sluice's own errors pass through). */
export function journalError(dir: string, doing: string, error: unknown): Error {
  if (error instanceof SluiceJournalError || error instanceof SluiceOptionError) return error;
  const what = error instanceof JournalFileError ? error.message : messageOf(error);
  return new SluiceJournalError(
    ErrorCodes.JOURNAL,
    dir,
    `The journal ${dir} could not ${doing}: ${what}. If it is damaged, move the folder away (or delete it) to start over.`,
    { cause: error },
  );
}

/** The refusals of opening a journal in a mode, checked under its lock. */
export function refuse(
  dir: string,
  mode: 'new' | 'resume' | 'restart' | 'retry',
  snapshot: Snapshot | undefined,
  fingerprint: Fingerprint,
  force: boolean,
): void {
  if (mode === 'new' && snapshot !== undefined) {
    const finished = snapshot.run.finished === 1;
    const what = finished
      ? `a finished run (run ${snapshot.run.epoch}, started ${snapshot.run.started_at})`
      : `an unfinished run (run ${snapshot.run.epoch}, started ${snapshot.run.started_at})`;
    const todo = finished
      ? 'Discard it and run again from the start (--restart).'
      : 'Continue that run (--resume), or discard it and start over (--restart).';
    throw new SluiceJournalError(ErrorCodes.JOURNAL_EXISTS, dir, `The journal ${dir} holds ${what}. ${todo}`, { finished });
  }
  if ((mode === 'resume' || mode === 'retry') && snapshot === undefined) {
    const what = mode === 'resume' ? 'resume' : 'retry the failed tasks of';
    throw new SluiceJournalError(
      ErrorCodes.JOURNAL_MISSING,
      dir,
      `There is no journal to ${what} in ${dir}. Start a new run (without --${mode === 'resume' ? 'resume' : 'retry-failed'}).`,
    );
  }
  if (mode === 'retry' && snapshot !== undefined && snapshot.run.finished !== 1 && snapshot.state.retry_phase === null) {
    throw new SluiceJournalError(
      ErrorCodes.JOURNAL_UNFINISHED,
      dir,
      `The journal ${dir} holds a run that did not finish (run ${snapshot.run.epoch}, started ${snapshot.run.started_at}): ` +
        'finish it first (--resume), then retry its failed tasks.',
    );
  }
  if ((mode !== 'resume' && mode !== 'retry') || snapshot === undefined) return;
  const changes = compareFingerprints(snapshot.fingerprint, fingerprint);
  if (changes.length === 0 || force) return;
  throw new SluiceJournalError(
    ErrorCodes.JOURNAL_CHANGED,
    dir,
    `The journal ${dir} was made for another input or job: ${describeChanges(changes)}. ` +
      'Resuming could skip or repeat the wrong tasks: start over (--restart), or resume anyway (--force).',
    { changes },
  );
}

/** Checks one record of a batch (before the transaction: a bad record leaves the journal as it was). */
export function checkRecord(record: unknown, index: number): void {
  const r = record as Partial<TaskRecord> | null;
  const name = `batch[${index}]`;
  if (typeof r !== 'object' || r === null) throw new SluiceOptionError(name, 'a task record', record);
  if (typeof r.key !== 'string') throw new SluiceOptionError(`${name}.key`, 'a string', r.key);
  if (!Number.isSafeInteger(r.position) || r.position! < 0) throw new SluiceOptionError(`${name}.position`, 'an integer >= 0', r.position);
  if (!STATES.has(r.state as string)) throw new SluiceOptionError(`${name}.state`, "'done', 'failed' or 'dead'", r.state);
  if (!Number.isSafeInteger(r.attempts) || r.attempts! < 0) throw new SluiceOptionError(`${name}.attempts`, 'an integer >= 0', r.attempts);
  if (r.cause !== undefined && typeof r.cause !== 'string') throw new SluiceOptionError(`${name}.cause`, 'a string or undefined', r.cause);
  const line = r.line as { offset?: unknown; size?: unknown } | null | undefined;
  if (line === undefined) return;
  if (typeof line !== 'object' || line === null) throw new SluiceOptionError(`${name}.line`, '{ offset, size } or undefined', line);
  if (!Number.isSafeInteger(line.offset) || (line.offset as number) < 0) {
    throw new SluiceOptionError(`${name}.line.offset`, 'an integer >= 0 (bytes)', line.offset);
  }
  if (!Number.isSafeInteger(line.size) || (line.size as number) < 1)
    throw new SluiceOptionError(`${name}.line.size`, 'an integer >= 1 (bytes)', line.size);
}
