/**
 * The tail scenario's task sequences: mostly short tasks and a few long ones in random positions,
 * drawn from a seeded PRNG so every strategy of a round runs the same sequence, and the lower
 * bound on any schedule of it on T threads.
 */

export interface SequenceSpec {
  readonly tasks: number;
  /** How many of the tasks are long (exactly; their positions are random). */
  readonly long: number;
  readonly shortMs: number;
  readonly longMs: number;
}

/** mulberry32: small, fast, and good enough to place a few long tasks. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Task durations (ms of CPU), `spec.long` of them long, placed by a partial Fisher-Yates shuffle. */
export function sequence(spec: SequenceSpec, seed: number): number[] {
  const ms = new Array<number>(spec.tasks).fill(spec.shortMs);
  const positions = Array.from({ length: spec.tasks }, (_, i) => i);
  const random = prng(seed);
  for (let k = 0; k < spec.long; k++) {
    const j = k + Math.floor(random() * (spec.tasks - k));
    [positions[k], positions[j]] = [positions[j]!, positions[k]!];
    ms[positions[k]!] = spec.longMs;
  }
  return ms;
}

/** No schedule on T threads beats max(Σd / T, max d). */
export function lowerBound(durations: readonly number[], threads: number): number {
  let [sum, max] = [0, 0];
  for (const d of durations) [sum, max] = [sum + d, Math.max(max, d)];
  return Math.max(sum / threads, max);
}

/** Contiguous chunks, as even as possible: thread i gets tasks [i·n/T, (i+1)·n/T). */
export function contiguousChunks<X>(xs: readonly X[], threads: number): X[][] {
  return Array.from({ length: threads }, (_, i) =>
    xs.slice(Math.floor((i * xs.length) / threads), Math.floor(((i + 1) * xs.length) / threads)),
  );
}
