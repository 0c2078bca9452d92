/**
 * Where `sluice run` writes its outcome lines: standard output, or a file written synchronously so
 * that a line is in the kernel once `write` returns and an exit right after (even `process.exit`
 * in a signal handler) loses nothing.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { ErrorCodes, SluiceStateError, SluiceUsageError } from '../../index.js';

/** A destination of outcome lines. */
export interface OutcomeSink {
  /** Write one line; the newline is added here. */
  write(line: string): void;
  /** Flush to disk (for a file) and close; later calls do nothing. */
  close(): Promise<void>;
  /** Lines written so far. */
  readonly lines: number;
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
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SluiceUsageError(`Cannot open output file ${path}: ${reason}`, { cause });
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
