/**
 * Scenario `ceiling`: the main thread's ceiling. Every io stage, the HTTP client's parsing and the
 * payload's handling run on one thread, so a job keeps at most about C / m threads busy, where m is
 * the main thread's CPU time per task and C the cpu stage's. This measures m for HTTP payloads of
 * 4 KiB to 1 MiB with next to no cpu work, the tasks/s that reaches, and derives what a job of each
 * shape can use of a 16- or 64-core machine from one process.
 *
 * Method. The doc servers (one process per payload size, answering after a 0 ms timer) run as
 * their own processes, so their CPU is never the main thread's. One fresh child
 * (bench/ceiling/child.ts) runs nothing but two executors, io('fetch', concurrency k = 32, global
 * fetch + arrayBuffer(), the run's signal passed on) → cpu('checksum', T = 2 threads, a checksum of
 * 16 bytes), one with `batch: 'auto'` (the default) and one with `batch: false` (one task per
 * message, its body moved to the thread). After a pre-warm of every size with both (undici's fetch
 * needs thousands of requests to warm up), `runs` rounds, the sizes in an order rotating per round, each size with both
 * variants (order alternating): a short warm-up run, then a timed run whose input yields tasks for a
 * fixed time. Timed: wall from the first pull to the last outcome, the main thread's CPU time
 * (schedstat, ns), the process's CPU (all threads), and the main thread's event-loop utilisation
 * (executor stats). Medians over rounds.
 */
import { fileURLToPath } from 'node:url';
import { type Child, lastError, machineBusyMs, startChild } from '../harness/child.js';
import { startDocServers, type DocServerProcess } from '../harness/doc-server.js';
import { fixed } from '../harness/format.js';
import type { Scenario } from '../harness/types.js';
import { VARIANTS, type SizeResult, type Variant } from './types.js';
import { checks, markdown, rows, type Measured } from './report.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const SIZES = [4, 64, 256, 1024].map((k) => k * 1024);
const VARIANT_NAMES = Object.keys(VARIANTS) as Variant[];
const CONCURRENCY = 32;
const THREADS = 2;
const LATENCY_MS = 0;
/** Distinct documents per server: the same bytes on the wire as 32, generated in an eighth of the time. */
const VARIETY = 4;
const CORES = 2;

interface Timing {
  /** Timed run per (size, variant, round), its warm-up run, and the pre-warm per (size, variant) (s). */
  readonly seconds: number;
  readonly warmup: number;
  readonly prewarm: number;
}

function childArgs(runs: number, timing: Timing): string[] {
  const args: Record<string, string> = {
    sizes: SIZES.join(','),
    variants: VARIANT_NAMES.join(','),
    rounds: String(runs),
    seconds: String(timing.seconds),
    warmup: String(timing.warmup),
    prewarm: String(timing.prewarm),
    concurrency: String(CONCURRENCY),
    threads: String(THREADS),
  };
  return ['--import', 'tsx', CHILD, ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, v])];
}

/**
 * Hands the child its servers' URLs and reads its results; the servers' counters and the machine's
 * busy CPU from then until it exits.
 */
async function measure(child: Child, servers: readonly DocServerProcess[], runs: number, log: (line: string) => void): Promise<Measured> {
  const results: SizeResult[] = [];
  let childCpuMs: number | undefined;
  child.on('RESULT', (line) => {
    const r = JSON.parse(line) as SizeResult;
    results.push(r);
    log(
      `ceiling [round ${r.round}] ${r.sizeBytes / 1024} KiB, batch ${r.variant}: ${fixed((r.completed / r.wallMs) * 1000, 0)} tasks/s, ` +
        `main thread ${fixed((r.mainCpuMs / r.completed) * 1000, 1)} µs/task, ELU ${fixed(r.elu, 2)}, ${r.completed}/${r.pulled} done`,
    );
  });
  child.on('DONE', (line) => (childCpuMs = (JSON.parse(line) as { cpuMs: number }).cpuMs));
  const before = await Promise.all(servers.map((s) => s.counters()));
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  child.send(`urls ${servers.map((s) => s.urls[0]!).join(',')}`);
  const e = await child.exited;
  const wallMs = performance.now() - t0;
  const busyMs = machineBusyMs() - busy0;
  const after = await Promise.all(servers.map((s) => s.counters()));
  const server = SIZES.map((sizeBytes, i) => ({
    sizeBytes,
    cpuMs: after[i]!.cpuMs - before[i]!.cpuMs,
    requests: after[i]!.requests - before[i]!.requests,
  }));
  const serversCpuMs = server.reduce((a, s) => a + s.cpuMs, 0);
  const othersCpuPct = childCpuMs !== undefined ? ((busyMs - childCpuMs - serversCpuMs) / (wallMs * CORES)) * 100 : undefined;
  const note =
    e.killed !== undefined
      ? `killed (${e.killed})`
      : childCpuMs === undefined
        ? lastError(e.stderr, `exit ${e.code ?? e.signal}`)
        : undefined;
  return {
    expected: runs * SIZES.length * VARIANT_NAMES.length,
    results,
    server,
    ...(othersCpuPct !== undefined && Number.isFinite(othersCpuPct) ? { othersCpuPct } : {}),
    ...(note !== undefined ? { note } : {}),
  };
}

export const scenario: Scenario = async (options) => {
  const runs = Math.max(1, options.runs);
  const timing: Timing = options.quick ? { seconds: 0.2, warmup: 0.05, prewarm: 0.05 } : { seconds: 1.2, warmup: 0.2, prewarm: 0.75 };
  options.log(
    `ceiling: ${SIZES.map((s) => `${s / 1024} KiB`).join(', ')}; batch ${VARIANT_NAMES.join(', ')}; k = ${CONCURRENCY}, T = ${THREADS}; ` +
      `${timing.seconds} s timed + ${timing.warmup} s warm-up per run, ${timing.prewarm} s pre-warm per run; ${runs} round(s)`,
  );
  // The child loads while the servers generate their documents; it waits for their URLs on stdin.
  const perRun = timing.warmup + timing.seconds;
  const child = startChild({
    args: childArgs(runs, timing),
    timeoutMs: (timing.prewarm + perRun * runs) * SIZES.length * VARIANT_NAMES.length * 3000 + 30_000,
  });
  const starting = await Promise.allSettled(SIZES.map((s) => startDocServers([LATENCY_MS], s, VARIETY)));
  const servers = starting.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  let measured: Measured;
  try {
    const failed = starting.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    measured = await measure(child, servers, runs, options.log);
  } finally {
    await child.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }

  const table = rows(measured, SIZES, VARIANT_NAMES);
  const config = {
    sizes: SIZES,
    variants: VARIANTS,
    concurrency: CONCURRENCY,
    threads: THREADS,
    latencyMs: LATENCY_MS,
    ...timing,
    runs,
    quick: options.quick,
    node: process.version,
  };
  return {
    name: 'ceiling',
    title: "The main thread's ceiling: main-thread CPU per HTTP task",
    method:
      `Doc servers (one process per payload size, answering after a ${LATENCY_MS} ms timer) in their own processes, so their CPU is ` +
      "never the main thread's. One fresh child process runs two executors, " +
      `\`io('fetch', { concurrency: ${CONCURRENCY} })\` (global \`fetch(url, { signal: ctx.signal })\` + \`arrayBuffer()\`) → ` +
      `\`cpu('checksum', { threads: ${THREADS}, batch })\` (a checksum of 16 bytes), with \`batch: 'auto'\` (the default) and ` +
      '`batch: false` (one task per message, the body moved to the thread). A pre-warm of ' +
      `${timing.prewarm} s per size and executor (undici's fetch and the paths of large bodies need thousands of requests before ` +
      'their code is optimized: with 1.5 s on 4 KiB alone the first round still paid 1.2 to 1.6× the main-thread CPU of the next two); then ' +
      `${runs} round(s), the sizes in an order rotating per round, each size with both executors (order alternating per round): a ` +
      `${timing.warmup} s warm-up run, then a timed run whose input yields tasks for ${timing.seconds} s. ` +
      "Timed: wall from the first pull to the last outcome; the main thread's CPU time from `/proc/self/task/<pid>/schedstat` " +
      "(time on a CPU in ns; the main thread's tid is the pid), cross-checked with utime + stime of `/proc/self/task/<pid>/stat` " +
      "(10 ms ticks); the process's CPU (all threads); the main thread's event-loop utilisation from " +
      '`executor.stats().mainThread.utilization`. Medians over rounds.',
    markdown: markdown(table, measured, runs),
    checks: checks(measured, table),
    charts: [],
    json: { config, rows: table, ...measured },
  };
};
