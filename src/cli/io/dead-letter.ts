/**
 * The dead-letter file of a journaled run (`OUTPUT.sluice/dead-letter.jsonl`, readable by the owner
 * only): one JSON line per failed task (and rejected input record), with its input record as read
 * and why it failed, ready to re-feed (`jq -c .record dead-letter.jsonl > retry.jsonl`).
 *
 * Its lines are written with each batch of the output, before the batch's journal commit. On a
 * resume the file is cut to the lines of tasks the journal holds as settled (a torn last line, or
 * the lines of a batch whose commit never happened, go: their tasks run again), so each failed
 * task has one line, as it has one in the output.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import type { Outcome } from '../../index.js';
import { errorJson, toJson } from '../../index.js';

export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

/** What a dead-letter line says about a task. */
export interface DeadLetterEntry {
  readonly key: string;
  readonly position: number;
  readonly line?: number | undefined;
  /** The input record as read: what to feed a later run. */
  readonly record: unknown;
  readonly stage: string;
  readonly attempts: number;
  readonly error: unknown;
}

/** The dead-letter line of a failed outcome. */
export function deadLetterLine(
  place: { readonly key: string; readonly position: number; readonly line?: number | undefined; readonly record: unknown },
  outcome: Pick<Extract<Outcome, { ok: false }>, 'stage' | 'attempts' | 'error'>,
): string {
  return JSON.stringify({
    key: place.key,
    position: place.position,
    line: place.line,
    record: toJson(place.record),
    stage: outcome.stage,
    attempts: outcome.attempts,
    error: errorJson(outcome.error, 0, new Set()),
  });
}

export interface DeadLetters {
  readonly path: string;
  /** Appends the lines (each gets its newline) in one write. */
  write(lines: readonly string[]): void;
  /** Lines in the file (kept from before, and written). */
  readonly count: number;
  /** Whether the file has a line for `key`. */
  has(key: string): boolean;
  close(): void;
}

/**
 * Opens the dead-letter file at `path`: empty for a new run; for a resume, cut to the lines whose
 * task `settled` says the journal holds (rewritten to a temporary file and renamed over it).
 */
export function openDeadLetters(path: string, resume: ((position: number, key: string) => boolean) | undefined): DeadLetters {
  let count = 0;
  // The keys with a line: kept from before, and written by this run (failures only: a small set).
  const keys = new Set<string>();
  if (resume !== undefined && existsSync(path)) {
    const kept: string[] = [];
    for (const text of readFileSync(path, 'utf8').split('\n')) {
      const entry = parse(text);
      if (entry === undefined || !resume(entry.position, entry.key)) continue;
      kept.push(`${text}\n`);
      keys.add(entry.key);
    }
    const temporary = `${path}.tmp`;
    writeFileSync(temporary, kept.join(''), { mode: 0o600 });
    renameSync(temporary, path);
    count = kept.length;
  }
  const fd = openSync(path, resume !== undefined ? 'a' : 'w', 0o600);
  let closed = false;
  return {
    path,
    write(lines) {
      if (lines.length === 0) return;
      for (const line of lines) {
        const entry = parse(line);
        if (entry !== undefined) keys.add(entry.key);
      }
      const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      count += lines.length;
    },
    get count() {
      return count;
    },
    has: (key) => keys.has(key),
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

function parse(text: string): { position: number; key: string } | undefined {
  if (text.length === 0) return undefined;
  try {
    const value = JSON.parse(text) as { position?: unknown; key?: unknown };
    return typeof value.position === 'number' && typeof value.key === 'string' ? { position: value.position, key: value.key } : undefined;
  } catch {
    return undefined; // a torn last line
  }
}
