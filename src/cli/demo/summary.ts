/** What `sluice demo` reports of its run, and the lines it prints on stdout. */
import type { ExecutorStats } from '../../index.js';
import type { ResolvedDemoOptions } from './options.js';

export interface DemoFailure {
  readonly index: number;
  readonly stage: string;
  readonly message: string;
}

export interface DemoSummary {
  readonly options: ResolvedDemoOptions;
  readonly tasks: number;
  readonly completed: number;
  readonly failed: number;
  /** The first few failures (at most 5). */
  readonly failures: readonly DemoFailure[];
  /** From the first pull to the output file closed (and the pools and the service). */
  readonly wallMs: number;
  readonly tasksPerSecond: number;
  readonly peakOpen: number;
  readonly peakBuffered: number;
  /** What `peakBuffered` can never exceed: the non-last stages' capacities plus the buffer bounds. */
  readonly bufferedBound: number;
  /** Peak resident set size of this process, in MiB. */
  readonly peakRssMiB: number;
  /** The document service's own counters. */
  readonly service: { readonly requests: number; readonly peakInFlight: number };
  readonly output: string;
  readonly stats: ExecutorStats;
}

export function formatSummary(s: DemoSummary): string[] {
  const o = s.options;
  return [
    `sluice demo: ${s.tasks} documents of ${o.sizeBytes} bytes, service latency ${o.latencyMs} ms, ` +
      `fetch concurrency ${o.concurrency}, ${o.threads} synthesize thread(s)`,
    `  tasks             ${s.tasks}`,
    `  completed         ${s.completed}`,
    `  failed            ${s.failed}`,
    `  wall time         ${(s.wallMs / 1000).toFixed(2)} s`,
    `  throughput        ${s.tasksPerSecond.toFixed(1)} tasks/s`,
    `  peak open tasks   ${s.peakOpen}`,
    `  peak buffered     ${s.peakBuffered} payloads (bound ${s.bufferedBound})`,
    `  peak RSS          ${s.peakRssMiB.toFixed(1)} MiB`,
    `  service requests  ${s.service.requests} (peak ${s.service.peakInFlight} in flight)`,
    `  output            ${s.output}`,
  ];
}
