/**
 * The benchmark's CPU step, identical for every strategy (on a worker thread or on the main
 * thread): SHA-256 over the whole payload, `SLUICE_BENCH_ROUNDS` times, so the work is real, scales
 * with the payload and is calibrated once per bench run to about 5 ms (see bench/calibrate.ts).
 * It answers a small result and the time it took, from which the bench takes C (median).
 *
 * It stands apart from the pipeline: it imports only node:crypto.
 */
import { createHash } from 'node:crypto';

export interface CpuResult {
  /** The first 16 hex digits of the digest: proof the work was done. */
  readonly digest: string;
  readonly bytes: number;
  /** Wall time of the work inside this function, in ms. */
  readonly ms: number;
}

const ROUNDS = Number(process.env.SLUICE_BENCH_ROUNDS ?? '20');

/** Hashes `body` `rounds` times, each round chained on the previous digest. */
export function hashRounds(body: Uint8Array, rounds: number): string {
  let digest = Buffer.alloc(32);
  for (let r = 0; r < rounds; r++) {
    digest = createHash('sha256').update(digest).update(body).digest();
  }
  return digest.toString('hex', 0, 8);
}

export default function cpuTask(body: Uint8Array): CpuResult {
  const start = performance.now();
  const digest = hashRounds(body, ROUNDS);
  return { digest, bytes: body.byteLength, ms: performance.now() - start };
}
