/**
 * A service's permit count in shared memory, so that its limit holds across every lane (worker
 * thread) of a process: "10 in flight to docs" means 10 in all lanes together. The main thread
 * makes the buffer, owns the limit (`setLimit`, from the adaptive algorithm) and sends the buffer
 * to each lane in `workerData`; every thread wraps it in its own `SharedPermits`.
 *
 * Layout of the buffer:
 * - Int32 cell 0, LIMIT: the limit (an integer >= 1), written by the main thread only.
 * - Int32 cell 1, IN_FLIGHT: permits held now, across every thread.
 * - Int32 cell 2, PEAK: the highest IN_FLIGHT ever reached (a CAS-max after each acquire).
 * - Int32 cell 3, GEN: bumped by every release and `setLimit`; waiters `Atomics.waitAsync` on it.
 * - BigInt64 at byte 16, PAUSED_UNTIL: epoch ms (Date.now()) until which calls pause; 0 if none.
 * - Int32 at byte 24, WANTS: what the main thread wants the lanes to report (bits of `REPORTS`).
 * - Int32 cells from byte 32, HELD[slot]: the permits each holder holds (slot 0 the main thread,
 *   1 + n lane n), so that the permits of a lane that stopped can be taken back (`reclaim`).
 *
 * A waiter never misses a wake-up: it reads GEN, then tries to acquire, then waits only while GEN
 * still holds the value it read, and every change to IN_FLIGHT or LIMIT bumps GEN before notifying.
 */
import { SluiceOptionError } from '../errors.js';

const LIMIT = 0;
const IN_FLIGHT = 1;
const PEAK = 2;
const GEN = 3;
const PAUSED_UNTIL_BYTE = 16;
const WANTS_BYTE = 24;
/** Then one Int32 cell per holder slot (0: the main thread, 1 + n: lane n): the permits it holds. */
const HELD_BYTE = 32;

/**
 * What the lanes send the main thread about a service's calls: the samples its limit algorithm
 * reads (none for a limit that cannot move), the attempts its observers get (none without one).
 */
export const REPORTS = Object.freeze({ samples: 1, events: 2 });
/** Holder slots: the main thread and up to 256 lanes (MAX_LANES). */
export const PERMIT_SLOTS = 257;
const BYTES = HELD_BYTE + 4 * PERMIT_SLOTS;

/**
 * A re-check when no notify came for this long. The protocol loses no wake-up; this covers a
 * thread terminated between its release's decrement and its notify.
 */
const SAFETY_RECHECK_MS = 1000;

type WaitResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
// Atomics.waitAsync is ES2024 (the project's lib is ES2023).
const waitAsync = (Atomics as unknown as { waitAsync(cells: Int32Array, index: number, value: number, timeoutMs: number): WaitResult })
  .waitAsync;

const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

function checkLimit(option: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 0x7fffffff) throw new SluiceOptionError(option, 'an integer >= 1', n);
}

/** The shared cells of one service: make on the main thread, send `buffer` to each lane in workerData. */
export function createPermitBuffer(initialLimit: number): SharedArrayBuffer {
  checkLimit('initialLimit', initialLimit);
  const buffer = new SharedArrayBuffer(BYTES);
  Atomics.store(new Int32Array(buffer), LIMIT, initialLimit);
  Atomics.store(new Int32Array(buffer, WANTS_BYTE, 1), 0, REPORTS.samples | REPORTS.events);
  return buffer;
}

/**
 * One thread's handle on a service's shared permits. `acquire()` is FIFO among this instance's
 * callers (across threads there is no order); at most one `Atomics.waitAsync` per instance is
 * pending at a time, and none once no caller waits. The pause (`pauseUntil`) is stored here for
 * every lane to read; honouring it is the caller's part.
 */
export class SharedPermits {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #pausedUntil: BigInt64Array;
  readonly #wants: Int32Array;
  /** Resolvers of this thread's waiters, oldest first from `#head`. */
  #queue: Array<() => void> = [];
  #head = 0;
  #draining = false;

  readonly #held: Int32Array;
  readonly #slot: number;

  /** `slot`: this holder's cell (0: the main thread, 1 + n: lane n). */
  constructor(buffer: SharedArrayBuffer, slot = 0) {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTES) {
      throw new SluiceOptionError('buffer', 'a SharedArrayBuffer from createPermitBuffer()', buffer);
    }
    this.buffer = buffer;
    if (!Number.isInteger(slot) || slot < 0 || slot >= PERMIT_SLOTS)
      throw new SluiceOptionError('slot', `an integer from 0 to ${PERMIT_SLOTS - 1}`, slot);
    this.#cells = new Int32Array(buffer, 0, 4);
    this.#held = new Int32Array(buffer, HELD_BYTE, PERMIT_SLOTS);
    this.#slot = slot;
    this.#pausedUntil = new BigInt64Array(buffer, PAUSED_UNTIL_BYTE, 1);
    this.#wants = new Int32Array(buffer, WANTS_BYTE, 1);
  }

  /** What the main thread wants reported (bits of `REPORTS`; both at first). */
  get wants(): number {
    return Atomics.load(this.#wants, 0);
  }

  /** Main thread: sets what the lanes report from now on (bits of `REPORTS`). */
  setWants(bits: number): void {
    Atomics.store(this.#wants, 0, bits);
  }

  get limit(): number {
    return Atomics.load(this.#cells, LIMIT);
  }

  /** Main thread: publishes a new limit and wakes every waiting thread to re-check. */
  setLimit(n: number): void {
    checkLimit('limit', n);
    Atomics.store(this.#cells, LIMIT, n);
    this.#wake();
  }

  /** Permits held now, across every thread. */
  get inFlight(): number {
    return Atomics.load(this.#cells, IN_FLIGHT);
  }

  /** The highest `inFlight` ever reached. */
  get peakInFlight(): number {
    return Atomics.load(this.#cells, PEAK);
  }

  /** Callers of this instance (this thread) waiting for a permit. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /** Takes a permit if one is free now (ahead of this instance's waiters: use `acquire()` for order). */
  tryAcquire(): boolean {
    const cells = this.#cells;
    let current = Atomics.load(cells, IN_FLIGHT);
    while (current < Atomics.load(cells, LIMIT)) {
      const seen = Atomics.compareExchange(cells, IN_FLIGHT, current, current + 1);
      if (seen !== current) {
        current = seen;
        continue;
      }
      // A limit read before a lowering can pass the CAS after IN_FLIGHT came back to the same value
      // (ABA): re-read the limit and hand the permit back if it no longer fits.
      if (current + 1 > Atomics.load(cells, LIMIT)) {
        this.#give(1);
        return false;
      }
      Atomics.add(this.#held, this.#slot, 1);
      let peak = Atomics.load(cells, PEAK);
      while (peak < current + 1) peak = Atomics.compareExchange(cells, PEAK, peak, current + 1);
      return true;
    }
    return false;
  }

  /** Resolves holding a permit: at once (an already resolved promise) when one is free and no caller of this instance waits. */
  acquire(): Promise<void> {
    if (this.waiting === 0 && this.tryAcquire()) return RESOLVED;
    return new Promise<void>((resolve) => {
      this.#queue.push(resolve);
      if (!this.#draining) void this.#drain();
    });
  }

  /** Returns a permit and wakes the waiting threads (at most one wait per thread) to re-check. */
  release(): void {
    // Refuses to go below zero: an extra release would raise the limit of every lane for good.
    if (Atomics.load(this.#held, this.#slot) <= 0) throw new RangeError('SharedPermits.release() without a permit held');
    Atomics.sub(this.#held, this.#slot, 1);
    this.#give(1);
  }

  /** Permits this holder holds now. */
  get held(): number {
    return Atomics.load(this.#held, this.#slot);
  }

  /**
   * Main thread: takes back every permit the holder `slot` held (a lane that stopped without
   * releasing them) and wakes the waiters; returns how many. A holder killed between taking a
   * permit and counting it as its own (two atomic steps) leaks that one permit.
   */
  reclaim(slot: number): number {
    const n = Atomics.exchange(this.#held, slot, 0);
    if (n > 0) this.#give(n);
    return n;
  }

  #give(n: number): void {
    const cells = this.#cells;
    let current = Atomics.load(cells, IN_FLIGHT);
    for (;;) {
      const next = Math.max(0, current - n);
      const seen = Atomics.compareExchange(cells, IN_FLIGHT, current, next);
      if (seen === current) break;
      current = seen;
    }
    this.#wake();
  }

  /** Epoch ms (Date.now() clock) until which calls to the service pause; 0 if none. */
  pausedUntil(): number {
    return Number(Atomics.load(this.#pausedUntil, 0));
  }

  /** Pauses calls until `epochMs`, or later if a later pause is already set. */
  pauseUntil(epochMs: number): void {
    if (!Number.isFinite(epochMs)) throw new SluiceOptionError('epochMs', 'a finite number (epoch ms)', epochMs);
    const target = BigInt(Math.ceil(epochMs));
    let current = Atomics.load(this.#pausedUntil, 0);
    while (current < target) {
      const seen = Atomics.compareExchange(this.#pausedUntil, 0, current, target);
      if (seen === current) return;
      current = seen;
    }
  }

  #wake(): void {
    Atomics.add(this.#cells, GEN, 1);
    Atomics.notify(this.#cells, GEN);
  }

  /**
   * Hands permits to this instance's waiters in order, waiting on GEN between tries; ends once no
   * caller waits. A pending waitAsync holds no event-loop handle (Node 20): a ref'd timer keeps the
   * thread alive meanwhile, or a thread whose only work waits for a permit would exit with it.
   */
  async #drain(): Promise<void> {
    this.#draining = true;
    const keepAlive = setInterval(noop, 1 << 30);
    const cells = this.#cells;
    try {
      while (this.waiting > 0) {
        const gen = Atomics.load(cells, GEN);
        if (this.tryAcquire()) {
          this.#shift()();
          continue;
        }
        const result = waitAsync(cells, GEN, gen, SAFETY_RECHECK_MS);
        if (result.async) await result.value;
      }
    } finally {
      clearInterval(keepAlive);
      this.#draining = false;
    }
  }

  #shift(): () => void {
    const resolve = this.#queue[this.#head]!;
    this.#head += 1;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return resolve;
  }
}

/**
 * A p-limit-shaped gate over shared permits: gate(fn) runs fn holding one permit (released when
 * fn's promise settles, also when it throws synchronously). `activeCount` and `pendingCount` count
 * this gate's calls (this thread); `concurrency` reads the shared limit, and setting it does
 * nothing (the main thread owns the limit: `SharedPermits.setLimit`).
 */
export interface SharedGate {
  <T>(fn: () => PromiseLike<T> | T): Promise<T>;
  readonly activeCount: number;
  readonly pendingCount: number;
  concurrency: number;
}

export function sharedGate(permits: SharedPermits): SharedGate {
  let active = 0;
  let pending = 0;
  const run = async <T>(fn: () => PromiseLike<T> | T): Promise<T> => {
    pending -= 1;
    active += 1;
    try {
      return await fn();
    } finally {
      active -= 1;
      permits.release();
    }
  };
  const gate = <T>(fn: () => PromiseLike<T> | T): Promise<T> => {
    pending += 1;
    return permits.acquire().then(() => run(fn));
  };
  return Object.defineProperties(gate, {
    activeCount: { get: () => active },
    pendingCount: { get: () => pending },
    concurrency: { get: () => permits.limit, set: noop },
  }) as SharedGate;
}
