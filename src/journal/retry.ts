/**
 * A retry of the failed tasks of a finished run (journal.ts, mode `'retry'`), in the journal's
 * records. The output's files are the caller's (the CLI: src/cli/io/retry-file.ts); the journal
 * keeps the phase (types.ts: `RetryPhase`) so that a retry killed at any moment goes on from where
 * it was:
 * - The retry starts a new output generation, phase `'copy'`: the caller copies the output without
 *   the lines of the failed tasks (`retryCuts`, by offset) to the retry file, then `copied(length)`.
 * - Phase `'run'`: the failed tasks of earlier generations run (`toRetry`, by position); their
 *   outcomes commit as any run's do, in the new generation, with the retry file's length.
 * - Phase `'replace'` (at `finish()`): the caller renames the retry file over the output, then
 *   `replaced()` ends the retry. Until then a resume renames it again (when it is still there).
 */
import type Database from 'better-sqlite3';
import type { LineCut, RetryPhase, RetryStatus } from './types.js';

/** Failed tasks whose line is not on record: a retry cannot cut their lines. */
export function failedWithoutLine(db: Database.Database): number {
  return db.prepare("SELECT count(*) FROM tasks WHERE state = 'failed' AND line_offset IS NULL").pluck().get() as number;
}

/** Starts a retry: the next output generation, phase `'copy'`. In the caller's transaction. */
export function beginRetry(db: Database.Database): number {
  db.prepare("UPDATE state SET generation = generation + 1, retry_phase = 'copy' WHERE id = 1").run();
  return db.prepare('SELECT generation FROM state WHERE id = 1').pluck().get() as number;
}

/** Moves the retry to `phase` (null: over), checking it was in `from`. In the caller's transaction. */
export function setPhase(db: Database.Database, from: RetryPhase, phase: RetryPhase | null, outputLength?: number): void {
  const now = db.prepare('SELECT retry_phase FROM state WHERE id = 1').pluck().get() as RetryPhase | null;
  if (now !== from) throw new Error(`the retry is in phase ${String(now)}, not ${from}`);
  if (outputLength === undefined) db.prepare('UPDATE state SET retry_phase = ? WHERE id = 1').run(phase);
  else db.prepare('UPDATE state SET retry_phase = ?, output_length = ? WHERE id = 1').run(phase, outputLength);
}

/**
 * The lines of the failed tasks of generations below `generation`, by offset, a page at a time
 * (the lines a retry's copy leaves out).
 */
export function* retryCuts(db: Database.Database, generation: number, pageSize = 1024): Generator<LineCut> {
  const page = db.prepare(
    "SELECT key, line_offset AS offset, line_size AS size FROM tasks WHERE state = 'failed' AND generation < ? AND line_offset > ? " +
      'ORDER BY line_offset LIMIT ?',
  );
  let last = -1;
  for (;;) {
    const rows = page.all(generation, last, pageSize) as LineCut[];
    if (rows.length === 0) return;
    yield* rows;
    last = rows[rows.length - 1]!.offset;
  }
}

/** The retry in progress, if one is. */
export function retryStatus(db: Database.Database, phase: RetryPhase | null | undefined, generation = 0): RetryStatus | undefined {
  if (phase === null || phase === undefined) return undefined;
  const left = db.prepare("SELECT count(*) FROM tasks WHERE state = 'failed' AND generation < ?").pluck().get(generation) as number;
  return { phase, generation, left };
}
