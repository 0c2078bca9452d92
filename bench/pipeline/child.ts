/**
 * Child entry of the pipeline scenario: runs ONE strategy in this fresh process and prints one
 * `RESULT {json}` line (bench/harness/lines.ts; the parent is bench/pipeline/run.ts).
 *
 * Method: the strategy is built once, then warmed up with `--warmup` tasks through its own code
 * path (threads started, worker module loaded, JIT warm, keep-alive sockets open), then the N
 * tasks are timed from the first pull to the last outcome. Peak RSS is the process's maxRSS
 * (main thread and worker threads alike), read after the run.
 *
 *   node --import tsx bench/pipeline/child.ts --strategy sluice --n 1000 --url http://127.0.0.1:PORT
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { emit } from '../harness/lines.js';
import { cpuMsOf as cpuMs, median, sum } from '../harness/stats.js';
import { threadCpuMs } from '../workers/cpu-task.js';
import { Meter, type ChildResult } from './meter.js';
import { FACTORIES } from './strategies.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      strategy: { type: 'string' },
      n: { type: 'string' },
      url: { type: 'string', default: '' },
      threads: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '16' },
      warmup: { type: 'string', default: '100' },
    },
  });
  const name = values.strategy ?? '';
  const factory = FACTORIES[name];
  if (factory === undefined) throw new Error(`--strategy: expected one of ${Object.keys(FACTORIES).join(', ')}, got "${name}"`);
  const n = Number(values.n);
  const workload = { url: values.url, threads: Number(values.threads), concurrency: Number(values.concurrency) };
  const strategy = factory(workload);

  const warm = new Meter();
  await strategy.run(
    Array.from({ length: Number(values.warmup) }, (_, i) => i),
    warm,
  );
  if (warm.failed > 0) throw new Error(`warm-up failed: ${warm.firstError}`);

  const meter = new Meter();
  const ids = Array.from({ length: n }, (_, i) => i);
  const cpu0 = process.cpuUsage();
  const main0 = threadCpuMs();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await strategy.run(ids, meter);
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const cpu = process.cpuUsage(cpu0);
  const main1 = threadCpuMs();
  const extra = strategy.extra?.();
  await strategy.close();
  const threadCpuPerTaskMs = meter.threadCpuPerTask();
  const result: ChildResult = {
    strategy: name,
    n,
    wallMs,
    ok: meter.ok,
    failed: meter.failed,
    ...(meter.firstError !== undefined ? { firstError: meter.firstError } : {}),
    ...(threadCpuPerTaskMs !== undefined ? { threadCpuPerTaskMs } : {}),
    ...(meter.wallMs.length > 0 ? { taskWallMsMedian: median(meter.wallMs), taskWallMsSum: sum(meter.wallMs) } : {}),
    processCpuMs: cpuMs(cpu),
    ...(main0 !== undefined && main1 !== undefined ? { mainCpuMs: main1 - main0 } : {}),
    lifeCpuMs: cpuMs(process.cpuUsage()),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    peakBuffered: meter.peakBuffered,
    peakFetching: meter.peakFetching,
    elu,
    ...(extra !== undefined ? { extra } : {}),
  };
  await emit('RESULT', result);
}

await main();
