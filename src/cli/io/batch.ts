/**
 * Outcome lines are written in batches, never one write call per line: a batch goes out when
 * `size` lines are pending, `ms` after its first line (an unref'd timer: a pending batch never
 * keeps the process alive), or when its owner flushes (at close). The journaled output batches
 * with the same defaults, and commits each batch to its journal after writing it.
 */

export const BATCH_DEFAULTS = Object.freeze({
  /** Outcomes per batch, at most. */
  size: 100,
  /**
   * Outcomes per batch with `--durable`, at most: each batch waits for two syncs (the output's,
   * then the journal's full-sync commit), so a batch takes what arrived meanwhile, up to this
   * (still within `ms`): the syncs, not the tasks, then set the pace.
   */
  durableSize: 1000,
  /** How long an outcome may wait for its batch's write, in ms. */
  ms: 20,
});

export interface LineBatch {
  /**
   * Adds a line (no newline); writes the batch when it is full.
   * @throws the failure of an earlier batch (one the timer wrote), or this batch's own.
   */
  add(line: string): void;
  /** Writes the pending lines, if any. @throws as `add` */
  flush(): void;
  /**
   * Writes the pending lines (unless a batch failed before) and stops the timer. @returns the
   * failure that no `add` or `flush` has thrown yet (the timer's, or this last write's), if any.
   */
  end(): unknown;
  /** Lines handed to `write` by a call that returned. */
  readonly written: number;
}

export interface LineBatchOptions {
  readonly size?: number;
  readonly ms?: number;
  /** A batch written from the timer failed (the next `add`, `flush` or `end` gives it too). */
  readonly onFailure?: (error: unknown) => void;
}

/**
 * Lines gathered for `write`, one call per batch. A failed write breaks the batch for good: its
 * lines are dropped, and every later `add` or `flush` throws that failure, so a failure of the
 * timer's write is not lost but comes out of the next call (or of `end`).
 */
export function lineBatch(write: (lines: readonly string[]) => void, options: LineBatchOptions = {}): LineBatch {
  const size = options.size ?? BATCH_DEFAULTS.size;
  const ms = options.ms ?? BATCH_DEFAULTS.ms;
  let pending: string[] = [];
  let written = 0;
  let timer: NodeJS.Timeout | undefined;
  let failure: unknown;
  /** The failure came out of `add` or `flush`: `end` need not give it again. */
  let told = false;

  function clear(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
  }

  /** @throws what `write` threw, kept as the failure. */
  function writePending(): void {
    if (pending.length === 0) return;
    const lines = pending;
    pending = [];
    try {
      write(lines);
    } catch (error) {
      failure = error;
      throw error;
    }
    written += lines.length;
  }

  function broken(): never {
    told = true;
    throw failure;
  }

  return {
    add(line) {
      if (failure !== undefined) broken();
      pending.push(line);
      if (pending.length >= size) {
        clear();
        try {
          writePending();
        } catch {
          broken();
        }
      } else if (timer === undefined) {
        timer = setTimeout(() => {
          timer = undefined;
          try {
            writePending();
          } catch (error) {
            options.onFailure?.(error);
          }
        }, ms);
        timer.unref();
      }
    },
    flush() {
      clear();
      if (failure !== undefined) broken();
      try {
        writePending();
      } catch {
        broken();
      }
    },
    end() {
      clear();
      if (failure === undefined) {
        try {
          writePending();
        } catch {
          // kept as the failure: returned below
        }
      }
      return told ? undefined : failure;
    },
    get written() {
      return written;
    },
  };
}
