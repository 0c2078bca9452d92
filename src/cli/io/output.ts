/**
 * Where `sluice run` writes its outcome lines: standard output, or a file written synchronously so
 * that a line is in the kernel once `write` returns and an exit right after (even `process.exit`
 * in a signal handler) loses nothing.
 */
import { accessSync, closeSync, constants, fsyncSync, openSync, statSync, writeSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ErrorCodes, SluiceStateError, type TaskRecord } from '../../index.js';
import { SluiceUsageError } from '../errors.js';
import { messageOf } from '../message.js';

/** What a journaled run records with a line: its task's record, and its dead-letter line when it failed. */
export interface JournalEntry {
  readonly record: TaskRecord;
  readonly deadLetter?: string | undefined;
}

/** A destination of outcome lines. */
export interface OutcomeSink {
  /** Write one line; the newline is added here. `entry` is for a journaled output; the others ignore it. */
  write(line: string, entry?: JournalEntry): void;
  /** Flush to disk (for a file) and close; later calls do nothing. */
  close(): Promise<void>;
  /** Lines written so far. */
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
 * A sink for `path`: `-` or undefined writes through `stdout`; any other path is created or
 * truncated, and its directory must exist.
 * @throws SluiceUsageError naming the path when the file cannot be opened.
 */
export function openOutput(path: string | undefined, stdout: (line: string) => void): OutcomeSink {
  if (path === undefined || path === '-') return stdoutSink(stdout);
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (cause) {
    throw new SluiceUsageError(`Cannot open output file ${path}: ${messageOf(cause)}`, { cause });
  }
  return fileSink(path, fd);
}

function stdoutSink(stdout: (line: string) => void): OutcomeSink {
  let lines = 0;
  return {
    write(line) {
      stdout(line);
      lines++;
    },
    close: () => Promise.resolve(),
    get lines() {
      return lines;
    },
  };
}

function fileSink(path: string, fd: number): OutcomeSink {
  let lines = 0;
  let closed = false;
  return {
    write(line) {
      if (closed) throw new SluiceStateError(ErrorCodes.CLOSED, `The output file ${path} is closed`);
      writeFully(fd, Buffer.from(`${line}\n`, 'utf8'));
      lines++;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      try {
        fsyncSync(fd);
      } catch (error) {
        // A character device or pipe (/dev/stdout, a FIFO) cannot be synced; its lines are out already.
        if (!isUnsyncable(error)) {
          closeSync(fd);
          return Promise.reject(error);
        }
      }
      closeSync(fd);
      return Promise.resolve();
    },
    get lines() {
      return lines;
    },
  };
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
