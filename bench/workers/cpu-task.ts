/**
 * The benchmark's CPU step, identical for every strategy (on a worker thread or on the main
 * thread): SHA-256 over the whole payload, `SLUICE_BENCH_ROUNDS` times, so the work is real, scales
 * with the payload and is calibrated once per bench run to about 5 ms (see bench/pipeline/calibrate.ts).
 * It answers a small result with the wall time of the work (which counts preemption on a busy
 * machine) and readings of the thread's CPU clock, from which the bench takes C.
 *
 * It stands apart from the pipeline: it imports only node builtins.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

export interface CpuResult {
  /** The first 16 hex digits of the digest: proof the work was done. */
  readonly digest: string;
  readonly bytes: number;
  /** Wall time of the work, in ms. */
  readonly ms: number;
  /** The thread that ran it (0: the main thread). */
  readonly thread: number;
  /**
   * This thread's cumulative CPU time (ms) when the work started and ended, where schedstat exists.
   * schedstat lags by up to a scheduler tick, so one task's difference is not its CPU time; the
   * bench takes the span from a thread's first task to its last, divided by its tasks.
   */
  readonly cpuAt?: readonly [number, number];
}

const ROUNDS = Number(process.env.SLUICE_BENCH_ROUNDS ?? '20');

/** CPU time of the calling thread in ms (Linux schedstat, ns resolution), or undefined. */
export function threadCpuMs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** Hashes `body` `rounds` times, each round chained on the previous digest. */
export function hashRounds(body: Uint8Array, rounds: number): string {
  let digest = Buffer.alloc(32);
  for (let r = 0; r < rounds; r++) {
    digest = createHash('sha256').update(digest).update(body).digest();
  }
  return digest.toString('hex', 0, 8);
}

export default function cpuTask(body: Uint8Array): CpuResult {
  const cpu0 = threadCpuMs();
  const start = performance.now();
  const digest = hashRounds(body, ROUNDS);
  const ms = performance.now() - start;
  const cpu1 = threadCpuMs();
  const cpuAt = cpu0 !== undefined && cpu1 !== undefined ? ([cpu0, cpu1] as const) : undefined;
  return { digest, bytes: body.byteLength, ms, thread: threadId, ...(cpuAt ? { cpuAt } : {}) };
}
