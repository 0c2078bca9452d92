/**
 * The lanes scenario's cpu step: a fixed amount of arithmetic per task (`SPINS` rounds of an
 * xorshift, about 0.2 ms on the bench machine, measured in each run as the cpu stage's `taskMs`), whatever the payload's size, and a checksum of the
 * body's length and first 16 bytes, so the body did reach the thread. The lane thread's id rides
 * along to the main thread, which reads that thread's CPU time from /proc.
 *
 * It stands apart from the pipeline: it imports nothing.
 */
export const SPINS = 100_000;

export interface Fetched {
  readonly body: ArrayBuffer;
  /** The Linux thread id of the thread that ran the fetch (the lane's, or the main thread's with one lane). */
  readonly tid: number;
}

export interface Worked {
  readonly sum: number;
  readonly tid: number;
}

export default function work(input: Fetched): Worked {
  const bytes = new Uint8Array(input.body, 0, Math.min(16, input.body.byteLength));
  let sum = input.body.byteLength | 0;
  for (const b of bytes) sum = (Math.imul(sum, 31) + b) | 0;
  let x = sum | 1;
  for (let i = 0; i < SPINS; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return { sum: sum ^ (x & 1), tid: input.tid };
}
