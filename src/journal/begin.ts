/**
 * A run's first transaction on its journal, under its lock: the run gets the next epoch (the fence
 * of every later commit); a new run or a restart starts the state afresh (a restart empties the
 * tasks); a resume or a retry goes on from the state the last run left, counting a crash against
 * what that run had in flight if it died, and a retry that is not under way yet starts one
 * (retry.ts).
 */
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { storedFingerprint } from './fingerprint.js';
import { beginRetry, failedWithoutLine } from './retry.js';
import { RESET_TASKS, type Snapshot, type StateRow, countCrashes, readSnapshot } from './store.js';
import type { Fingerprint, OpenJournalOptions, TaskRecord } from './types.js';

export interface Begun {
  readonly epoch: number;
  /** The tasks marked dead now (in flight at their third crash). */
  readonly dead: TaskRecord[];
  /** The state the run goes on from: undefined for a new run or a restart (all zeros). */
  readonly state: StateRow | undefined;
}

export function beginRun(
  db: Database.Database,
  mode: OpenJournalOptions['mode'],
  snapshot: Snapshot | undefined,
  fingerprint: Fingerprint,
  startedAt: string,
): Begun {
  const continued = (mode === 'resume' || mode === 'retry') && snapshot !== undefined;
  const stored = storedFingerprint(fingerprint);
  return db
    .transaction((): Begun => {
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
      if (!continued) {
        db.prepare("INSERT OR REPLACE INTO state (id, fingerprint, output_length, watermark, in_flight) VALUES (1, ?, 0, 0, '[]')").run(
          stored,
        );
        return { epoch, dead: [], state: undefined };
      }
      let dead: TaskRecord[] = [];
      // The last run died (it never closed): what it had in flight may have killed it. Counted
      // once: the keys in flight are cleared, so a run that dies before its first commit counts no
      // crash against tasks it never ran.
      if (snapshot.run.ended_at === null) dead = countCrashes(db, snapshot.state.in_flight, snapshot.state.generation ?? 0);
      db.prepare("UPDATE state SET fingerprint = ?, in_flight = '[]' WHERE id = 1").run(stored);
      if (mode === 'retry' && snapshot.state.retry_phase === null) {
        const unplaced = failedWithoutLine(db);
        if (unplaced > 0) {
          throw new Error(`${unplaced} failed tasks were committed without the place of their line: a retry cannot replace those lines`);
        }
        beginRetry(db);
      }
      return { epoch, dead, state: readSnapshot(db)!.state };
    })
    .immediate();
}
