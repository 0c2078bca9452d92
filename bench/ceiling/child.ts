/**
 * Child entry of the ceiling scenario: a fresh process that runs nothing but the measured
 * pipelines, one executor per batching variant, each io('fetch', concurrency k: global fetch +
 * arrayBuffer()) → cpu('checksum', T threads, a few bytes of work), against the doc servers (one
 * per payload size, other processes).
 *
 * Method. First a pre-warm of `--prewarm` s per size and variant: undici's fetch and the paths of
 * large bodies need thousands of requests before their code is optimized (measured: with 1.5 s on
 * 4 KiB alone, the first round still paid 1.2 to 1.6× the main-thread CPU per task of the next two).
 * Then `--rounds` rounds; round r runs the sizes in the order rotated by r - 1, each size with every
 * variant (their order alternating per round), each as a warm-up run of `--warmup` s (sockets open
 * again, 'auto' settles its batch size) and a timed run whose input yields tasks for `--seconds` s.
 * One `RESULT {json}` line per timed run, `DONE {json}` at the end (the process's CPU time since it
 * had the URLs).
 *
 * The main thread's CPU time is read from /proc/self/task/<pid>/schedstat (its first field: time
 * on a CPU, in ns; the main thread's tid is the pid), and cross-checked against utime + stime of
 * /proc/self/task/<pid>/stat (clock ticks).
 *
 * Without `--urls`, it reads them from a `urls A,B,…` line on stdin, so the parent can start it while
 * the servers start.
 *
 *   node --import tsx bench/ceiling/child.ts --sizes 4096,65536 --urls http://127.0.0.1:A,http://127.0.0.1:B --rounds 3
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cpu, createExecutor, type Executor, io } from 'sluice';
import { commands, emit } from '../harness/lines.js';
import { cpuMsOf, rotate } from '../harness/stats.js';
import { VARIANTS, type SizeResult, type Variant } from './types.js';

const TASK = new URL('./task.ts', import.meta.url);

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '' },
    urls: { type: 'string', default: '' },
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    rounds: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '1.2' },
    warmup: { type: 'string', default: '0.2' },
    prewarm: { type: 'string', default: '0.75' },
    concurrency: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const urls = values.urls !== '' ? values.urls.split(',') : await urlsFromStdin();
const started = process.cpuUsage();
if (sizes.length !== urls.length || sizes.some((s) => !(s > 0))) throw new Error('--sizes and --urls: one positive size per URL');
const variants = values.variants.split(',') as Variant[];
for (const v of variants) if (!(v in VARIANTS)) throw new Error(`--variants: expected ${Object.keys(VARIANTS).join(', ')}, got "${v}"`);
const [seconds, warmup, prewarm] = [Number(values.seconds), Number(values.warmup), Number(values.prewarm)];

/** The servers' URLs from a `urls A,B,…` line on stdin: the parent starts this child while its servers start. */
function urlsFromStdin(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const stop = commands(
      (line) => {
        if (!line.startsWith('urls ')) return;
        stop();
        resolve(line.slice(5).split(','));
      },
      () => reject(new Error('stdin ended before a "urls" line')),
    );
  });
}

/** /proc counts in USER_HZ ticks, 100 a second on Linux (`getconf CLK_TCK`) whatever the kernel's HZ. */
const TICK_MS = 10;
const TASK_DIR = `/proc/self/task/${process.pid}`;

/** CPU time of the main thread alone (ms): schedstat (ns), and stat's utime + stime (ticks). */
function mainThreadCpu(): { ms: number; tickMs: number } {
  const ms = Number(readFileSync(`${TASK_DIR}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  // The fields after "(comm) ": utime and stime are the 12th and 13th (fields 14 and 15 of stat).
  const stat = readFileSync(`${TASK_DIR}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ms, tickMs: (Number(f[11]) + Number(f[12])) * TICK_MS };
}

/** `base/docs/0`, `base/docs/1`, … until `seconds` have passed since the first pull. */
function* timedInput(base: string, seconds: number, count: { n: number }): Generator<string> {
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) yield `${base}/docs/${count.n++}`;
}

/** What a user writes: the run's signal passed on, the body read whole. */
async function fetchBody(url: string, signal: AbortSignal): Promise<ArrayBuffer> {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`GET ${url} answered HTTP ${res.status}`);
  return res.arrayBuffer();
}

const concurrency = Number(values.concurrency);
const executors = new Map<Variant, Executor<string, number>>(
  variants.map((v) => [
    v,
    createExecutor<string, number>({
      stages: [
        io('fetch', (url: string, ctx) => fetchBody(url, ctx.signal), { concurrency }),
        cpu('checksum', TASK, { threads: Number(values.threads), batch: VARIANTS[v] }),
      ],
    }),
  ]),
);

async function drain(ex: Executor<string, number>, base: string, seconds: number) {
  const count = { n: 0 };
  let [completed, failed] = [0, 0];
  let firstError: string | undefined;
  for await (const o of ex.run(timedInput(base, seconds, count))) {
    if (o.ok) completed += 1;
    else {
      failed += 1;
      firstError ??= o.error instanceof Error ? o.error.message : String(o.error);
    }
  }
  return { pulled: count.n, completed, failed, ...(firstError !== undefined ? { firstError } : {}) };
}

async function measure(round: number, variant: Variant, sizeBytes: number, base: string): Promise<SizeResult> {
  const ex = executors.get(variant)!;
  const warm = await drain(ex, base, warmup);
  if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.firstError}`);
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpu();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const counts = await drain(ex, base, seconds);
  const wallMs = performance.now() - t0;
  const ownElu = performance.eventLoopUtilization(elu0).utilization;
  const main1 = mainThreadCpu();
  const processCpuMs = cpuMsOf(process.cpuUsage(cpu0));
  const stats = ex.stats();
  const [fetchStage, cpuStage] = [stats.stages[0]!, stats.stages[1]!];
  return {
    round,
    sizeBytes,
    variant,
    ...counts,
    wallMs,
    mainCpuMs: main1.ms - main0.ms,
    mainCpuTickMs: main1.tickMs - main0.tickMs,
    processCpuMs,
    elu: stats.mainThread.utilization,
    ownElu,
    ioPeakRunning: fetchStage.peakRunning,
    ioCapacity: fetchStage.capacity,
    ...(cpuStage.batch !== undefined ? { batch: cpuStage.batch } : {}),
  };
}

try {
  for (const v of variants) for (const base of urls) await drain(executors.get(v)!, base, prewarm);
  const rounds = Number(values.rounds);
  for (let round = 1; round <= rounds; round++) {
    const order = rotate(
      sizes.map((s, i) => [s, urls[i]!] as const),
      round - 1,
    );
    const inTurn = round % 2 === 1 ? variants : [...variants].reverse();
    for (const [sizeBytes, base] of order) {
      for (const v of inTurn) await emit('RESULT', await measure(round, v, sizeBytes, base));
    }
  }
} finally {
  await Promise.all([...executors.values()].map((ex) => ex.close()));
}
// The process's CPU since it had its URLs: the parent compares it with the machine's over the same span.
await emit('DONE', { cpuMs: cpuMsOf(process.cpuUsage(started)) });
