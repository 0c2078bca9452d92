/**
 * The commit of a batch: one transaction holding the batch's records, the output's new length, the
 * watermark and the keys in flight. Prepared once: a commit is the hot path of a journaled run.
 *
 * A done task whose key is its position (the default key) gets no row: the watermark (every
 * position below it settled) and the done log, which holds the positions settled above it, record
 * it. Its row would cost a B-tree insert per task (3-4 µs here); a batch's log entry is one insert
 * of its positions, and the entries wholly below the watermark are dropped as it passes them (the
 * watermark says the same). The watermark's window (window.ts) holds the logged positions in
 * memory; a position it cannot hold (past its span), or one settled before in this run (a failure
 * committed again as done), gets a row. Every other record gets its row:
 * failed and dead tasks (with their cause, and a failed line's place), tasks the job keys, and
 * every record of a retry.
 */
import type Database from 'better-sqlite3';
import type { TaskRecord } from './types.js';
import type { SettledWindow } from './window.js';

export type Commit = (batch: readonly TaskRecord[], outputLength: number, inFlight: string) => void;

export interface CommitOptions {
  readonly window: SettledWindow;
  /** The output generation the records are written in. */
  readonly generation: number;
  /** A retry: every record gets its row, and the window (the finished run's) is left as it is. */
  readonly retrying: boolean;
  /** Inside the transaction, first: the run's epoch is still the newest (throws when fenced). */
  readonly checkEpoch: () => void;
  /** Inside the transaction: the pending position fixes of rows stored without one. */
  readonly fixPositions: () => void;
}

export function prepareCommit(db: Database.Database, options: CommitOptions): Commit {
  const { window, generation, retrying, checkEpoch, fixPositions } = options;
  const upsert = db.prepare(
    'INSERT OR REPLACE INTO tasks (key, position, state, attempts, cause, generation, line_offset, line_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const log = db.prepare('INSERT INTO done_log (last, positions) VALUES (?, ?)');
  const prune = db.prepare('DELETE FROM done_log WHERE last < ?');
  const save = db.prepare('UPDATE state SET output_length = ?, watermark = ?, in_flight = ?, done_logged = done_logged + ? WHERE id = 1');
  const tx = db.transaction((batch: readonly TaskRecord[], outputLength: number, inFlight: string) => {
    checkEpoch();
    const logged: number[] = [];
    let last = -1;
    for (const r of batch) {
      // Logged only when first settled: a task settled before (a failure committed again) has a row to replace.
      if (!retrying && r.state === 'done' && isPositionKey(r.key, r.position) && !window.has(r.position) && window.add(r.position)) {
        logged.push(r.position);
        if (r.position > last) last = r.position;
        continue;
      }
      const line = r.state === 'failed' ? r.line : undefined;
      upsert.run(r.key, r.position, r.state, r.attempts, r.cause ?? null, generation, line?.offset ?? null, line?.size ?? null);
      if (!retrying) window.add(r.position);
    }
    fixPositions();
    const watermark = window.watermark;
    // A batch's entry wholly below the watermark says nothing the watermark does not.
    if (logged.length > 0 && last >= watermark) log.run(last, logged.join(','));
    if (logged.length > 0) prune.run(watermark);
    save.run(outputLength, watermark, inFlight, logged.length);
  });
  return tx.immediate;
}

/** The default key: the task's position, as a decimal string. */
export function isPositionKey(key: string, position: number): boolean {
  return position >= 0 && key === String(position);
}

/** The key's position when it is a position key (a decimal integer, no leading zero); else undefined. */
export function positionOfKey(key: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(key)) return undefined;
  const position = Number(key);
  return Number.isSafeInteger(position) ? position : undefined;
}

/** Puts the logged positions at or above the window's watermark into it (a resume). */
export function loadDoneLog(db: Database.Database, window: SettledWindow): void {
  const rows = db.prepare('SELECT positions FROM done_log WHERE last >= ?').pluck().all(window.watermark) as string[];
  for (const text of rows) {
    for (const part of text.split(',')) {
      const position = Number(part);
      if (position >= window.watermark) window.add(position);
    }
  }
}
