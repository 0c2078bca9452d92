/**
 * The input side of a run: the source's iterator, sync or async, pulled one task at a time while
 * the scheduler has room. An async pull is pending until it settles, and holds the slot its task
 * will take meanwhile; the scheduler may give up waiting for it (an abort, a stop), after which
 * what it yields is ignored.
 */
import { SluiceInputError } from '../errors.js';

/** The scheduler, as the input side sees it. */
export interface InputSink {
  /** Whether a task may be pulled now (a free slot in the first stage, and the window not full). */
  room(): boolean;
  /** The task at `index` was pulled. */
  task(index: number, value: unknown): void;
  /** Nothing more comes: the input ended, or failed with `error`. */
  end(error?: SluiceInputError): void;
  /** A pull is pending (`+1`) or no longer (`-1`): hold, or give back, the slot its task will take. */
  reserve(delta: 1 | -1): void;
  /** A pending pull settled: move what can move. */
  pump(): void;
}

export class Input {
  readonly #source: Iterable<unknown> | AsyncIterable<unknown>;
  readonly #sink: InputSink;
  #iterator: Iterator<unknown> | AsyncIterator<unknown> | undefined;
  #async = false;
  /** Identifies the pending pull; cleared when it settles or the scheduler gives up waiting for it. */
  #pullToken: object | undefined;
  #done = false;
  #pulled = 0;

  constructor(source: Iterable<unknown> | AsyncIterable<unknown>, sink: InputSink) {
    this.#source = source;
    this.#sink = sink;
  }

  /** Tasks taken from the input. */
  get pulled(): number {
    return this.#pulled;
  }

  /** An async pull is pending. */
  get pulling(): boolean {
    return this.#pullToken !== undefined;
  }

  /** Gets the source's iterator; a source that throws here is a `SluiceInputError`, thrown. */
  open(): void {
    const source = this.#source as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
    try {
      const asyncIterator = source[Symbol.asyncIterator];
      if (typeof asyncIterator === 'function') {
        this.#iterator = asyncIterator.call(source);
        this.#async = true;
      } else {
        this.#iterator = (source as Iterable<unknown>)[Symbol.iterator]();
      }
    } catch (error) {
      throw new SluiceInputError(0, error);
    }
  }

  /** Pulls tasks while the sink has room: a sync input one after another, an async one a pull at a time. */
  pull(): void {
    while (!this.#done && this.#pullToken === undefined && this.#sink.room()) {
      let result: IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
      try {
        result = this.#iterator!.next();
      } catch (error) {
        this.#failed(error);
        return;
      }
      if (!this.#async) {
        this.#take(result as IteratorResult<unknown>);
        continue;
      }
      // Reserve the slot the pulled task will take, so nothing else can take it meanwhile.
      this.#sink.reserve(1);
      const token = {};
      this.#pullToken = token;
      (result as Promise<IteratorResult<unknown>>).then(
        (r) => {
          if (this.#pullToken !== token) return;
          this.abandon();
          this.#take(r);
          this.#sink.pump();
        },
        (error: unknown) => {
          if (this.#pullToken !== token) return;
          this.abandon();
          this.#failed(error);
          this.#sink.pump();
        },
      );
      return;
    }
  }

  #take(result: IteratorResult<unknown>): void {
    if (result.done) {
      this.#done = true;
      this.#sink.end();
      return;
    }
    const index = this.#pulled;
    this.#pulled += 1;
    this.#sink.task(index, result.value);
  }

  #failed(error: unknown): void {
    this.#done = true;
    this.#sink.end(new SluiceInputError(this.#pulled, error));
  }

  /** Stops waiting for the pending pull, if any: what it yields is ignored, its slot given back. */
  abandon(): void {
    if (this.#pullToken === undefined) return;
    this.#pullToken = undefined;
    this.#sink.reserve(-1);
  }

  /** Pulls nothing more, calling the iterator's `return()` unless the input already ended. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    const iterator = this.#iterator;
    if (iterator?.return === undefined) return;
    try {
      const r = iterator.return();
      if (r instanceof Promise) r.catch(() => undefined);
    } catch {
      // The input's own clean-up failed; the run's outcome does not depend on it.
    }
  }
}
