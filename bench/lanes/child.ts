/**
 * Child entry of the lanes scenario: a fresh process for one design (lanes 1, 2, 'auto' or 4) in
 * one round. It runs `createJobExecutor('./fetch-job.ts', { lanes })` (the built package, as a
 * user would) against the doc server (the bench's service simulator in its own process, capacity
 * far above the limit, 0 ms, its body size set per payload size over its HTTP control endpoint).
 *
 * Method. The executor starts (its lanes, each loading the job module and building its pipeline);
 * a pre-warm of `--prewarm` s per size (undici's fetch and the body paths need thousands of
 * requests before their code is optimized, in every lane); then per size, in the order rotated by
 * the round: the server's body size set, a warm-up run of `--warmup` s, the server's counters
 * reset, and a timed run whose input yields URLs for `--seconds` s. One `RESULT {json}` line per
 * timed run (./types.ts), `DONE {json}` at the end.
 *
 * The main thread's CPU time is read from /proc/self/task/<pid>/schedstat (its first field: time
 * on a CPU, ns; the main thread's tid is the pid), each lane thread's from its own task entry (the
 * job reports the thread id that fetched each task).
 *
 *   node --import tsx bench/lanes/child.ts --design 2 --url http://127.0.0.1:PORT --sizes 4096,65536
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createJobExecutor, type JobExecutor } from 'sluice';
import { emit } from '../harness/lines.js';
import { cpuMsOf, rotate } from '../harness/stats.js';
import { lanesOption, type CellResult, type ChildDone, type Design } from './types.js';
import type { Worked } from './work.js';

const { values } = parseArgs({
  options: {
    design: { type: 'string', default: '2' },
    job: { type: 'string', default: new URL('./fetch-job.ts', import.meta.url).href },
    url: { type: 'string', default: '' },
    sizes: { type: 'string', default: '4096' },
    round: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '1.2' },
    warmup: { type: 'string', default: '0.2' },
    prewarm: { type: 'string', default: '0.5' },
  },
});
const design = values.design as Design;
const url = values.url;
const sizes = values.sizes.split(',').map(Number);
const round = Number(values.round);
const [seconds, warmup, prewarm] = [Number(values.seconds), Number(values.warmup), Number(values.prewarm)];
if (url === '' || sizes.some((s) => !(s > 0))) throw new Error('--url and --sizes (positive) are needed');
const started = process.cpuUsage();

/** CPU time of one thread of this process (ms): schedstat (ns), and stat's utime + stime (10 ms ticks). */
function threadCpu(tid: number): { ms: number; tickMs: number } {
  const dir = `/proc/self/task/${tid}`;
  try {
    const ms = Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    const stat = readFileSync(`${dir}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ms, tickMs: (Number(f[11]) + Number(f[12])) * 10 };
  } catch {
    return { ms: Number.NaN, tickMs: Number.NaN };
  }
}

/**
 * The process's peak RSS over a span: the kernel's high-water mark (VmHWM), reset through
 * /proc/self/clear_refs, so nothing samples during the run. Where that cannot be written, the RSS
 * at the span's ends.
 */
function peakRss(): { reset(): void; read(): number } {
  const hwmMiB = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
  let cleared = false;
  let floor = 0;
  return {
    reset() {
      floor = process.memoryUsage.rss() / 1024 / 1024;
      try {
        writeFileSync('/proc/self/clear_refs', '5');
        cleared = true;
      } catch {
        cleared = false;
      }
    },
    read: () => Math.max(floor, process.memoryUsage.rss() / 1024 / 1024, cleared ? hwmMiB() : 0),
  };
}

/** The doc server's HTTP control endpoints (bench/kit/simulator/server.ts). */
async function server(path: string, body?: unknown): Promise<{ peakInFlight: number; served: number }> {
  const res = await fetch(`${url}${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { peakInFlight: number; served: number };
}

/** `url/work/0`, `url/work/1`, … until `seconds` have passed since the first pull. */
function* timedInput(s: number, count: { n: number }): Generator<string> {
  const deadline = performance.now() + s * 1000;
  while (performance.now() < deadline) yield `${url}/work/${count.n++}`;
}

const laneTids = new Set<number>();

async function drain(ex: JobExecutor<string, Worked>, s: number) {
  const count = { n: 0 };
  let [completed, failed] = [0, 0];
  let firstError: string | undefined;
  for await (const o of ex.run(timedInput(s, count))) {
    if (o.ok) {
      completed += 1;
      if (o.value.tid !== process.pid) laneTids.add(o.value.tid);
    } else {
      failed += 1;
      firstError ??= o.error instanceof Error ? o.error.message : String(o.error);
    }
  }
  return { pulled: count.n, completed, failed, ...(firstError !== undefined ? { firstError } : {}) };
}

async function measure(ex: JobExecutor<string, Worked>, sizeBytes: number): Promise<CellResult> {
  await server('/control', { bodyBytes: sizeBytes });
  const warm = await drain(ex, warmup);
  if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.firstError}`);
  await server('/reset', {});
  const tids = [...laneTids].sort((a, b) => a - b);
  const before = ex.stats().lanes?.lanes.map((l) => l.completed) ?? [];
  const batches0 = ex.stats().lanes?.batches ?? 0;
  const hwm = peakRss();
  hwm.reset();
  const cpu0 = process.cpuUsage();
  const lanes0 = tids.map((t) => threadCpu(t).ms);
  const main0 = threadCpu(process.pid);
  const t0 = performance.now();
  const counts = await drain(ex, seconds);
  const wallMs = performance.now() - t0;
  const main1 = threadCpu(process.pid);
  const lanes1 = tids.map((t) => threadCpu(t).ms);
  const processCpuMs = cpuMsOf(process.cpuUsage(cpu0));
  const peakRssMiB = hwm.read();
  const stats = ex.stats();
  const seen = await server('/stats');
  const lanes = stats.lanes?.lanes ?? [];
  const taskMs = stats.stages[stats.stages.length - 1]?.batch?.taskMs;
  return {
    round,
    design,
    lanes: ex.lanes,
    sizeBytes,
    ...counts,
    wallMs,
    mainCpuMs: main1.ms - main0.ms,
    mainCpuTickMs: main1.tickMs - main0.tickMs,
    processCpuMs,
    laneCpuMs: lanes1.map((v, i) => v - lanes0[i]!),
    laneElu: lanes.map((l) => l.utilization),
    laneRecentElu: lanes.map((l) => l.recentUtilization),
    laneCompleted: lanes.map((l, i) => l.completed - (before[i] ?? 0)),
    mainElu: stats.mainThread.utilization,
    limit: docs.limit.current,
    serverPeak: seen.peakInFlight,
    serverServed: seen.served,
    servicePeak: docs.stats().peakInFlight,
    peakRssMiB,
    batches: (stats.lanes?.batches ?? 0) - batches0,
    ...(taskMs !== undefined ? { taskMs } : {}),
  };
}

const t0 = performance.now();
const ex = await createJobExecutor<string, Worked>(values.job, { lanes: lanesOption(design) });
const startMs = performance.now() - t0;
const docs = ex.services.find((s) => s.name === 'docs')!;
let closeMs = Number.NaN;
try {
  for (const size of prewarm > 0 ? sizes : []) {
    await server('/control', { bodyBytes: size });
    await drain(ex, prewarm);
  }
  for (const size of rotate(sizes, round - 1)) await emit('RESULT', await measure(ex, size));
} finally {
  const c0 = performance.now();
  await ex.close();
  closeMs = performance.now() - c0;
}
const done: ChildDone = { design, lanes: ex.lanes, startMs, closeMs, cpuMs: cpuMsOf(process.cpuUsage(started)) };
await emit('DONE', done);
