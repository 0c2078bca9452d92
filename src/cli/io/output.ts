/**
 * Where `sluice run` writes its outcome lines when it keeps no journal: standard output, or a file
 * that is no regular file (/dev/stdout, a FIFO, /dev/null). Lines go out in batches (batch.ts: 100
 * lines or 20 ms, one write call each), never a write call per line; `close` writes the last batch,
 * and `flushOutputs` the pending lines of every open sink, for an exit that cannot wait. A file is
 * written synchronously: a batch is in the kernel once its write returns.
 */
import { accessSync, closeSync, constants, fsyncSync, openSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ErrorCodes, SluiceStateError, type TaskRecord } from '../../index.js';
import { SluiceUsageError } from '../errors.js';
import { messageOf } from '../message.js';
import { lineBatch, type LineBatch, type LineBatchOptions } from './batch.js';

/** What a journaled run records with a line: its task's record, and its dead-letter line when it failed. */
export interface JournalEntry {
  readonly record: TaskRecord;
  readonly deadLetter?: string | undefined;
}

/** A destination of outcome lines. */
export interface OutcomeSink {
  /**
   * Adds one line (the newline is added here), written with its batch. `entry` is for a journaled
   * output; the others ignore it. @throws the failed write of an earlier batch, or of this one.
   */
  write(line: string, entry?: JournalEntry): void;
  /** Writes the pending lines now. @throws as `write` */
  flush(): void;
  /**
   * Writes the pending lines, flushes to disk (for a file) and closes; later calls do nothing.
   * Rejects with a failed write that no `write` or `flush` has thrown (the timer's, or the last batch's).
   */
  close(): Promise<void>;
  /** Lines handed over so far: written to the file, or given to `stdout` by a call that returned. */
  readonly lines: number;
}

/**
 * Checks that `path` can be written without touching it (nothing is created or truncated): an
 * existing file must be writable and must not be the input file; a new file's directory must exist
 * and be writable. `-` and undefined (stdout) always pass. `openOutput` truncates; call this first
 * so that a run refused for any reason leaves the user's file as it was.
 * @throws SluiceUsageError naming the path and what is wrong.
 */
export function checkOutput(path: string | undefined, input?: string): void {
  if (path === undefined || path === '-') return;
  const stats = statOf(path);
  if (stats !== undefined) {
    if (stats.isDirectory()) throw new SluiceUsageError(`Cannot write output file ${path}: it is a directory`);
    if (input !== undefined) {
      const source = statOf(input);
      if (source !== undefined && source.dev === stats.dev && source.ino === stats.ino) {
        throw new SluiceUsageError(
          `The output file ${path} is the input file: writing outcomes would truncate the tasks; choose another --output`,
        );
      }
    }
    writable(path, `Cannot write output file ${path}`);
    return;
  }
  const dir = dirname(resolve(path));
  const parent = statOf(dir);
  if (parent === undefined) throw new SluiceUsageError(`Cannot create output file ${path}: its directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw new SluiceUsageError(`Cannot create output file ${path}: ${dir} is not a directory`);
  writable(dir, `Cannot create output file ${path} in ${dir}`);
}

/** The file's stats; undefined when nothing is there. @throws SluiceUsageError for any other failure. */
function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new SluiceUsageError(`Cannot write output file ${path}: ${messageOf(cause)}`, { cause });
  }
}

function writable(path: string, what: string): void {
  try {
    accessSync(path, constants.W_OK);
  } catch (cause) {
    throw new SluiceUsageError(`${what}: ${messageOf(cause)}`, { cause });
  }
}

/**
 * A sink for `path`: `-` or undefined writes through `stdout`, one call per batch with the batch's
 * lines joined by newlines (`stdout` adds the last newline, as it does for one line); any other
 * path is created or truncated, and its directory must exist.
 * @throws SluiceUsageError naming the path when the file cannot be opened.
 */
export function openOutput(path: string | undefined, stdout: (lines: string) => void, batch: LineBatchOptions = {}): OutcomeSink {
  if (path === undefined || path === '-') return stdoutSink(stdout, batch);
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (cause) {
    throw new SluiceUsageError(`Cannot open output file ${path}: ${messageOf(cause)}`, { cause });
  }
  return fileSink(path, fd, batch);
}

/** The batches of the sinks open now, for `flushOutputs`. */
const open = new Set<LineBatch>();

/**
 * Writes the pending lines of every open sink now, ignoring failures: for an exit that cannot wait
 * for the sinks' close (a third signal, a job that calls process.exit), so that the lines of the
 * outcomes seen so far are not lost with the process.
 */
export function flushOutputs(): void {
  for (const batch of open) {
    try {
      batch.flush();
    } catch {
      // The process is ending: there is no one left to tell.
    }
  }
}

function stdoutSink(stdout: (lines: string) => void, options: LineBatchOptions): OutcomeSink {
  const batch = lineBatch((lines) => {
    try {
      stdout(lines.join('\n'));
    } catch (error) {
      throw writeError('Cannot write to standard output', error);
    }
  }, options);
  open.add(batch);
  let closed = false;
  return {
    write(line) {
      batch.add(line);
      // After close (a line of a run that ended without waiting for its tasks) it goes out at once.
      if (closed) batch.flush();
    },
    flush: () => batch.flush(),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      open.delete(batch);
      const error = batch.end();
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
    get lines() {
      return batch.written;
    },
  };
}

function fileSink(path: string, fd: number, options: LineBatchOptions): OutcomeSink {
  const batch = lineBatch((lines) => {
    try {
      writeFully(fd, Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
    } catch (error) {
      throw writeError(`Cannot write output file ${path}`, error);
    }
  }, options);
  open.add(batch);
  let closed = false;
  const closedError = (): SluiceStateError => new SluiceStateError(ErrorCodes.CLOSED, `The output file ${path} is closed`);
  return {
    write(line) {
      if (closed) throw closedError();
      batch.add(line);
    },
    flush() {
      if (closed) throw closedError();
      batch.flush();
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      open.delete(batch);
      let error = batch.end();
      try {
        fsyncSync(fd);
      } catch (e) {
        // A character device or pipe (/dev/stdout, a FIFO) cannot be synced; its lines are out already.
        if (!isUnsyncable(e)) error ??= e;
      }
      closeSync(fd);
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
    get lines() {
      return batch.written;
    },
  };
}

/** A failed write, its message naming the output; the node error's code (EPIPE, ENOSPC) stays its code. */
function writeError(what: string, error: unknown): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const wrapped = new Error(`${what}: ${messageOf(error)}`, { cause: error });
  return code === undefined ? wrapped : Object.assign(wrapped, { code });
}

/** writeSync may write part of a buffer (a pipe, a signal); go on until all of it is written. */
function writeFully(fd: number, bytes: Buffer): void {
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

function isUnsyncable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EINVAL' || code === 'ENOTSUP' || code === 'EROFS';
}
