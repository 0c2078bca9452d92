/**
 * What the scale-out bench's jobs tell the bench about their outcomes when a node runs them under
 * `sluice worker` (which calls the job's `onOutcome` for every outcome stored, and its `close` at
 * the end), enabled by $SLUICE_BENCH_REPORT: `FIRST <epoch ms>` on stdout at the first outcome,
 * and at the close one line `OUTCOMES {"firstAt","lastAt","buckets":[[bucket, outcomes, failed]]}`
 * with the outcomes counted in 100 ms buckets of the epoch clock (`performance.timeOrigin +
 * performance.now()`, which every process on the machine shares). The worker's stdout carries
 * nothing else (its progress and summary go to stderr), so the lines follow the bench's line
 * protocol (bench/harness/lines.ts).
 */
const enabled = process.env.SLUICE_BENCH_REPORT !== undefined;
const BUCKET_MS = 100;

export function outcomeLog() {
  const buckets = new Map();
  let firstAt;
  let lastAt;
  return {
    onOutcome(outcome) {
      if (!enabled) return;
      const t = performance.timeOrigin + performance.now();
      if (firstAt === undefined) {
        firstAt = t;
        process.stdout.write(`FIRST ${t}\n`);
      }
      lastAt = t;
      const b = Math.floor(t / BUCKET_MS);
      const counts = buckets.get(b) ?? [0, 0];
      counts[0] += 1;
      if (!outcome.ok) counts[1] += 1;
      buckets.set(b, counts);
    },
    close() {
      if (!enabled) return;
      const list = [...buckets].map(([b, [n, f]]) => [b, n, f]);
      process.stdout.write(`OUTCOMES ${JSON.stringify({ firstAt, lastAt, buckets: list })}\n`);
    },
  };
}
