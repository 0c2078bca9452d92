/**
 * The files of a retry of the failed tasks (`sluice run --retry-failed`; the journal's side:
 * src/journal/retry.ts). The retry writes a new output, the retry file in the journal's folder
 * (beside the output, so on its file system): first a copy of the output without the failed tasks'
 * lines, then, as the retry runs, their new outcome lines (the journaled sink appends to it as to
 * any output). At the end it is renamed over the output: the output is never changed in place, so a
 * retry killed at any moment leaves it whole, and goes on from its journal.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LineCut } from '../../index.js';
import { SluiceUsageError } from '../errors.js';
import { messageOf } from '../message.js';

export const RETRY_FILE = 'retry-output.jsonl';

/** The retry file of a journal folder. */
export function retryFileOf(dir: string): string {
  return join(dir, RETRY_FILE);
}

/** Bytes copied at a time. */
const CHUNK = 1 << 20;

/**
 * Writes `target` (created or emptied, with the mode of `source`): the first `length` bytes of
 * `source` without the `cuts` (by offset: each a whole line). Checks each cut is a line where the
 * journal says (a newline ends it, and one ends the line before it): an output changed behind the
 * journal is refused, with `target` left to be written again.
 * @returns the length of `target`.
 * @throws SluiceUsageError naming the output and what is wrong.
 */
export function copyWithoutLines(source: string, target: string, length: number, cuts: Iterable<LineCut>, durable: boolean): number {
  const refuse = (why: string, cause?: unknown): SluiceUsageError =>
    new SluiceUsageError(
      `Cannot retry the failed tasks of ${source}: ${why}; run with --restart to start over`,
      cause === undefined ? undefined : { cause },
    );
  let input: number;
  try {
    input = openSync(source, 'r');
  } catch (cause) {
    throw refuse(messageOf(cause), cause);
  }
  let output: number | undefined;
  try {
    const stats = fstatSync(input);
    if (stats.size < length)
      throw refuse(`it has ${stats.size} bytes, fewer than the ${length} its journal committed (it was changed behind the journal)`);
    output = openSync(target, 'w', stats.mode & 0o777);
    const buffer = Buffer.allocUnsafe(CHUNK);
    const byte = Buffer.alloc(1);
    const byteAt = (at: number): number => (readSync(input, byte, 0, 1, at) === 1 ? byte[0]! : -1);
    let from = 0;
    let written = 0;
    const copy = (to: number): void => {
      while (from < to) {
        const n = readSync(input, buffer, 0, Math.min(CHUNK, to - from), from);
        if (n === 0) throw refuse(`it ended at ${from} bytes while copying it`);
        let offset = 0;
        while (offset < n) offset += writeSync(output!, buffer, offset, n - offset, written + offset);
        from += n;
        written += n;
      }
    };
    for (const cut of cuts) {
      const end = cut.offset + cut.size;
      const whole =
        cut.offset >= from && end <= length && byteAt(end - 1) === 0x0a && (cut.offset === 0 || byteAt(cut.offset - 1) === 0x0a);
      if (!whole)
        throw refuse(`the line of failed task ${cut.key} is not at bytes ${cut.offset}-${end} (the file was changed behind its journal)`);
      copy(cut.offset);
      from = end;
    }
    copy(length);
    if (durable) fsyncSync(output);
    return written;
  } finally {
    if (output !== undefined) closeSync(output);
    closeSync(input);
  }
}

/**
 * Puts the retry file in place of the output: renamed over it (atomic), the folder synced when
 * `durable`. When the retry file is gone, an earlier attempt renamed it already: the output must
 * be there.
 */
export function replaceOutput(retryFile: string, output: string, durable: boolean): void {
  try {
    if (existsSync(retryFile)) {
      renameSync(retryFile, output);
      if (durable) syncFolder(dirname(output));
    } else statSync(output);
  } catch (cause) {
    throw Object.assign(new Error(`Cannot put the retried output in place of ${output}: ${messageOf(cause)}`, { cause }), {
      code: (cause as { code?: unknown }).code,
    });
  }
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
