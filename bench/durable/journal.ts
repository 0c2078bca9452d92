/**
 * The durable scenario's in-process work with the library's journal (`openJournal`, by package
 * name): building the journal of a run of N settled tasks without running them, timing the
 * journal's commits alone, and counting the tasks a run's journal holds done under the job's own keys.
 *
 * The built journal is what the CLI would have left after a run of the no-op job killed once it had
 * committed its first N outcomes: the CLI's own fingerprint (read from a journal a real run made, so
 * nothing here repeats how the CLI computes it), N `done` records committed in batches, each with the
 * output's new length, and an output file holding those N lines as the CLI writes them. The run is
 * not finished, so `--resume` continues it.
 */
import { mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openJournal, readJournalStatus, type Fingerprint, type TaskRecord } from 'sluice';
import { cpuMsOf } from '../harness/stats.js';

/** The fingerprint of a journal a run made (`OUTPUT.sluice`). */
export function fingerprintOf(journalDir: string): Fingerprint {
  const status = readJournalStatus(journalDir);
  if (status === undefined) throw new Error(`no journal in ${journalDir}`);
  return status.fingerprint;
}

export interface BuiltJournal {
  readonly tasks: number;
  readonly outputBytes: number;
  readonly wallMs: number;
}

/** The no-op job's outcome line for task `i` (its task and value are the number itself). */
const lineOf = (i: number): string => `{"ok":true,"index":${i},"task":${i},"value":${i}}\n`;

/**
 * Writes `output` with the lines of tasks 0..tasks-1 and commits them to `output.sluice` in
 * batches of `batch` (the output's bytes first, then the commit with its new length), leaving the
 * run unfinished.
 */
export function buildJournal(output: string, fingerprint: Fingerprint, tasks: number, batch: number): BuiltJournal {
  const t0 = performance.now();
  const journal = openJournal(`${output}.sluice`, { fingerprint, mode: 'new' });
  const fd = openSync(output, 'w');
  let length = 0;
  try {
    for (let from = 0; from < tasks; from += batch) {
      const to = Math.min(tasks, from + batch);
      const records: TaskRecord[] = [];
      let text = '';
      for (let i = from; i < to; i++) {
        records.push({ key: String(i), position: i, state: 'done', attempts: 1 });
        text += lineOf(i);
      }
      const bytes = Buffer.from(text, 'utf8');
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset, length + offset);
      length += bytes.length;
      journal.commit(records, length, []);
    }
  } finally {
    closeSync(fd);
    journal.close();
  }
  return { tasks, outputBytes: length, wallMs: performance.now() - t0 };
}

export interface CommitCost {
  readonly commits: number;
  readonly batch: number;
  readonly inFlight: number;
  /** CPU (user + sys) of this process per commit, µs. */
  readonly cpuUsPerCommit: number;
  readonly wallUsPerCommit: number;
}

/**
 * Times `commits` commits of `batch` done records each, with `inFlight` keys in flight, into a new
 * journal in `dir`: the journal's own cost per batch, without the output's write.
 */
export function commitCost(dir: string, fingerprint: Fingerprint, commits: number, batch: number, inFlight: number): CommitCost {
  mkdirSync(dir, { recursive: true });
  const journal = openJournal(join(dir, 'out.jsonl.sluice'), { fingerprint, mode: 'new' });
  try {
    let position = 0;
    const batches: TaskRecord[][] = [];
    for (let c = 0; c < commits; c++) {
      const records: TaskRecord[] = [];
      for (let i = 0; i < batch; i++, position++) records.push({ key: String(position), position, state: 'done', attempts: 1 });
      batches.push(records);
    }
    const keysInFlight = (c: number): string[] => Array.from({ length: inFlight }, (_, i) => String((c + 1) * batch + i));
    const flights = batches.map((_, c) => keysInFlight(c));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let c = 0; c < commits; c++) journal.commit(batches[c]!, (c + 1) * batch * 40, flights[c]!);
    const wallMs = performance.now() - t0;
    const cpuMs = cpuMsOf(process.cpuUsage(cpu0));
    return { commits, batch, inFlight, cpuUsPerCommit: (cpuMs * 1000) / commits, wallUsPerCommit: (wallMs * 1000) / commits };
  } finally {
    journal.close();
  }
}

/**
 * How many of the keys `keyOf(0)`..`keyOf(n - 1)` the journal in `journalDir` (a finished run's)
 * holds as done. It opens the journal as a resume would (its own fingerprint), so run it only on a
 * journal that is discarded after. A journal of a job giving its own keys should hold all n (a row
 * each); one of position keys none (its done tasks are kept in no row).
 */
export function doneKeys(journalDir: string, n: number, keyOf: (task: number) => string): number {
  const journal = openJournal(journalDir, { fingerprint: fingerprintOf(journalDir), mode: 'resume' });
  try {
    let done = 0;
    for (let i = 0; i < n; i++) if (journal.stateOf(keyOf(i)) === 'done') done++;
    return done;
  } finally {
    journal.close();
  }
}
