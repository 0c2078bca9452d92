/**
 * The output file of a journaled `sluice run`: outcome lines are written in batches (every
 * `batchSize` outcomes or `batchMs`, whichever comes first), each batch in one write (short writes
 * continued), THEN committed to the journal with the output's new length and the keys in flight.
 * That order makes the output exactly-once: a crash after the write and before the commit leaves
 * bytes the journal does not account for, and a resume cuts the output back to the committed
 * length (a torn line, or the lines of an uncommitted batch, go) before it runs their tasks again.
 * Each failed task's line is committed with its place (offset and size), which a retry of the
 * failed tasks cuts from the output it rewrites (retry-file.ts). A `checkpoint` commits with no
 * line pending: a task on record as in flight before it starts (a suspect of a crash, run alone:
 * see run/tasks.ts).
 *
 * With `durable`, the output is fsynced before each commit (the journal then commits with a full
 * sync). A failed write or commit (a full disk: EFBIG, ENOSPC) breaks the sink: every later write
 * throws that error, and nothing more is committed, so the journal stays as the last good batch
 * left it.
 */
import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { ErrorCodes, SluiceStateError, type TaskLedger, type TaskRecord } from '../../index.js';
import { SluiceUsageError } from '../errors.js';
import { messageOf } from '../message.js';
import { BATCH_DEFAULTS } from './batch.js';
import type { DeadLetters } from './dead-letter.js';
import { replaceOutput } from './retry-file.js';
import type { JournalEntry, OutcomeSink } from './output.js';

// The defaults are shared with the sinks of output.ts (which this module imports types from: they live apart).
export { BATCH_DEFAULTS };

export interface JournaledOutputOptions {
  readonly path: string;
  /** The journal, open; the sink closes it. */
  readonly ledger: TaskLedger;
  /** Cut the output back to the journal's committed length (a resume); else create or truncate it. */
  readonly resume: boolean;
  readonly durable: boolean;
  /** The keys of the tasks pulled and not settled yet, recorded with each commit. */
  readonly inFlight: () => readonly string[];
  readonly deadLetters?: DeadLetters | undefined;
  readonly batchSize?: number;
  readonly batchMs?: number;
  /** A batch written from the timer failed (the next `write` throws it too). */
  readonly onFailure?: (error: unknown) => void;
  /**
   * A retry's output (`path` is the retry file, retry-file.ts): at `finish`, once the journal has
   * the retry's end, the file is renamed over `target`, then `done()` tells the journal.
   */
  readonly replace?: { readonly target: string; readonly done: () => void } | undefined;
}

export interface JournaledSink extends OutcomeSink {
  /** Writes and commits what is pending. `final`: the run is over, nothing is in flight any more. */
  flush(final?: boolean): void;
  /**
   * Writes and commits what is pending with the keys in flight now, even when no line is pending:
   * a task pulled with nothing else in flight (a suspect of a crash, given its turn alone) is on
   * record as in flight before it starts, so a crash it causes counts against it.
   */
  checkpoint(): void;
  /** The most outcomes one commit holds. */
  readonly batchSize: number;
  /** Flushes, then tells the journal the whole input went through. */
  finish(): void;
  /** The failed write or commit that broke the sink, if one did. */
  readonly failure: unknown;
  /** The output's committed length, in bytes. */
  readonly committed: number;
}

/**
 * Opens the output for a journaled run: for a resume, cuts it to `ledger.outputLength` (refused,
 * with the file untouched, when it is missing or shorter: it was changed behind the journal).
 * @throws SluiceUsageError naming the path.
 */
export function openJournaledOutput(options: JournaledOutputOptions): JournaledSink {
  const { path, ledger, durable, inFlight, deadLetters, onFailure, replace } = options;
  const batchSize = options.batchSize ?? (durable ? BATCH_DEFAULTS.durableSize : BATCH_DEFAULTS.size);
  const batchMs = options.batchMs ?? BATCH_DEFAULTS.ms;
  const fd = options.resume ? openForResume(path, ledger.outputLength) : openNew(path);
  let length = options.resume ? ledger.outputLength : 0;
  let lines = 0;
  let texts: string[] = [];
  let records: TaskRecord[] = [];
  /** Failed tasks' lines pending: their places are committed (a retry cuts them). */
  let failedLines = 0;
  let dead: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let failure: unknown;
  let closed = false;

  function fail(error: unknown): never {
    failure ??= error;
    throw error;
  }

  /** `final`: nothing is in flight any more; `always`: commit the keys in flight even with no line pending. */
  function flush(final = false, always = final): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (failure !== undefined) throw failure;
    if (closed) throw new SluiceStateError(ErrorCodes.CLOSED, `The output file ${path} is closed`);
    if (records.length === 0 && !always) return;
    const bytes = Buffer.from(texts.join(''), 'utf8');
    const batch = failedLines > 0 ? placeLines(texts, records, length) : records;
    failedLines = 0;
    const deadBatch = dead;
    texts = [];
    records = [];
    dead = [];
    try {
      deadLetters?.write(deadBatch);
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset, length + offset);
      if (durable && bytes.length > 0) fdatasyncSync(fd);
      ledger.commit(batch, length + bytes.length, final ? [] : inFlight());
    } catch (error) {
      // The node error's code (EFBIG, ENOSPC) stays the error's code: the summary reports it.
      const code = (error as { code?: unknown } | null)?.code;
      fail(Object.assign(new Error(`Cannot write output file ${path}: ${messageOf(error)}`, { cause: error }), { code }));
    }
    length += bytes.length;
  }

  return {
    batchSize,
    write(line: string, entry?: JournalEntry) {
      if (failure !== undefined) throw failure;
      if (closed) throw new SluiceStateError(ErrorCodes.CLOSED, `The output file ${path} is closed`);
      if (entry === undefined) throw new SluiceStateError(ErrorCodes.CLOSED, `A line for ${path} came without its task record`);
      texts.push(`${line}\n`);
      records.push(entry.record);
      if (entry.record.state === 'failed') failedLines++;
      if (entry.deadLetter !== undefined) dead.push(entry.deadLetter);
      lines++;
      if (records.length >= batchSize) flush();
      else if (timer === undefined) {
        timer = setTimeout(() => {
          timer = undefined;
          try {
            flush();
          } catch (error) {
            onFailure?.(error);
          }
        }, batchMs);
        timer.unref();
      }
    },
    flush: (final?: boolean) => flush(final),
    checkpoint: () => flush(false, true),
    finish() {
      flush(true);
      ledger.finish();
      if (replace === undefined) return;
      if (durable) fsyncSync(fd);
      replaceOutput(path, replace.target, durable);
      replace.done();
    },
    close() {
      if (closed) return Promise.resolve();
      let error: unknown;
      try {
        if (failure === undefined) flush(true);
      } catch (e) {
        error = e;
      }
      closed = true;
      try {
        fsyncSync(fd);
      } catch (e) {
        if (!isUnsyncable(e)) error ??= e;
      }
      closeSync(fd);
      try {
        deadLetters?.close();
      } finally {
        ledger.close();
      }
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
    get lines() {
      return lines;
    },
    get failure() {
      return failure;
    },
    get committed() {
      return length;
    },
  };
}

/** The batch's records, each failed one with its line's place in the output (a batch starts at `start`). */
function placeLines(texts: readonly string[], records: readonly TaskRecord[], start: number): TaskRecord[] {
  let offset = start;
  return records.map((record, i) => {
    const size = Buffer.byteLength(texts[i]!, 'utf8');
    const at = offset;
    offset += size;
    return record.state === 'failed' ? { ...record, line: { offset: at, size } } : record;
  });
}

function openNew(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (cause) {
    throw new SluiceUsageError(`Cannot open output file ${path}: ${messageOf(cause)}`, { cause });
  }
}

/** Opens `path` for writing at `committed`, cut back to it; refuses a file the journal cannot account for. */
function openForResume(path: string, committed: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ENOENT' && committed === 0) return openNew(path);
    const why = (cause as { code?: unknown }).code === 'ENOENT' ? 'it is gone' : messageOf(cause);
    throw new SluiceUsageError(
      `Cannot resume into output file ${path}: ${why}, and its journal holds ${committed} committed bytes of it; ` +
        'run with --restart to start over',
      { cause },
    );
  }
  const size = fstatSync(fd).size;
  if (size < committed) {
    closeSync(fd);
    throw new SluiceUsageError(
      `Cannot resume into output file ${path}: it has ${size} bytes, fewer than the ${committed} its journal committed ` +
        '(it was changed behind the journal); run with --restart to start over',
    );
  }
  if (size > committed) ftruncateSync(fd, committed);
  return fd;
}

function isUnsyncable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EINVAL' || code === 'ENOTSUP' || code === 'EROFS';
}
