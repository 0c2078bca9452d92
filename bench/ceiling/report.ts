/**
 * The ceiling scenario's outputs: per payload size, the main thread's CPU per task m, the tasks/s
 * reached and the ceiling 1e6 / m; then what that means for a job with C = 1 ms or 10 ms of cpu
 * work per task: C / m threads kept busy, on a 16- and a 64-core machine. Checks: structural,
 * every task completed and the io stage within its concurrency; reported, the main thread near
 * saturation at the largest size.
 */
import { fixed, int } from '../harness/format.js';
import { medianOrNaN as median } from '../harness/stats.js';
import type { Check } from '../harness/types.js';
import type { SizeResult, Variant } from './types.js';

/** What the scenario's child measured, and the servers' and the machine's figures around it. */
export interface Measured {
  /** Timed runs asked for: rounds × sizes × variants. */
  readonly expected: number;
  readonly results: readonly SizeResult[];
  /** Each size's doc server over the child's life (warm-ups included): its CPU and requests. */
  readonly server: readonly { readonly sizeBytes: number; readonly cpuMs: number; readonly requests: number }[];
  /** The machine's busy CPU not spent by the child or the servers, in % of the 2 cores. */
  readonly othersCpuPct?: number;
  /** Why the child ended early. */
  readonly note?: string;
}

export interface Row {
  readonly sizeBytes: number;
  readonly variant: Variant;
  /** Rounds with a result for this size and variant. */
  readonly runs: number;
  readonly tasks: number;
  readonly tasksPerS: number;
  /** m: the main thread's CPU per task (µs), schedstat; and from stat's clock ticks. */
  readonly mainUs: number;
  readonly mainTickUs: number;
  /** 1e6 / m: the most tasks a second one main thread can carry. */
  readonly maxTasksPerS: number;
  readonly elu: number;
  readonly ownElu: number;
  /** The main thread's CPU time ÷ wall: how much of the run it was on a core (= tasks/s reached ÷ 1e6 / m). */
  readonly mainOnCpu: number;
  /** CPU of the whole process (main thread and workers) per task (µs). */
  readonly processUs: number;
  /** The doc server's CPU per request (µs), warm-ups included (the same for both variants). */
  readonly serverUs: number;
  /** The cpu stage's largest batch and its tasks per message (stats), medians. */
  readonly batchPeak: number;
  readonly tasksPerBatch: number;
}

/** The cpu work per task a job might have (ms), and the machines it might run on. */
export const JOB_CPU_MS = [1, 10] as const;
export const MACHINES = [16, 64] as const;

const kib = (b: number) => (b >= 1024 * 1024 ? `${b / 1024 / 1024} MiB` : `${b / 1024} KiB`);

interface BatchFigures {
  readonly peak?: number;
  readonly batches?: number;
}

export function rows(m: Measured, sizes: readonly number[], variants: readonly Variant[]): Row[] {
  return sizes.flatMap((sizeBytes) =>
    variants.map((variant) => {
      const rs = m.results.filter((x) => x.sizeBytes === sizeBytes && x.variant === variant && x.completed > 0);
      const pick = (f: (r: SizeResult) => number) => median(rs.map(f));
      const mainUs = pick((r) => (r.mainCpuMs / r.completed) * 1000);
      const server = m.server.find((s) => s.sizeBytes === sizeBytes);
      return {
        sizeBytes,
        variant,
        runs: rs.length,
        tasks: pick((r) => r.completed),
        tasksPerS: pick((r) => (r.completed / r.wallMs) * 1000),
        mainUs,
        mainTickUs: pick((r) => (r.mainCpuTickMs / r.completed) * 1000),
        maxTasksPerS: 1e6 / mainUs,
        elu: pick((r) => r.elu),
        ownElu: pick((r) => r.ownElu),
        mainOnCpu: pick((r) => r.mainCpuMs / r.wallMs),
        processUs: pick((r) => (r.processCpuMs / r.completed) * 1000),
        serverUs: server && server.requests > 0 ? (server.cpuMs / server.requests) * 1000 : Number.NaN,
        batchPeak: pick((r) => (r.batch as BatchFigures | undefined)?.peak ?? Number.NaN),
        tasksPerBatch: pick((r) => r.completed / ((r.batch as BatchFigures | undefined)?.batches ?? Number.NaN)),
      };
    }),
  );
}

/** Threads a job with `cpuMs` per task can keep busy, C / m, and how much of `cores` that fills. */
export function busyThreads(cpuMs: number, mainUs: number): number {
  return (cpuMs * 1000) / mainUs;
}

function onMachine(threads: number, cores: number): string {
  if (!Number.isFinite(threads)) return 'n/a';
  return threads >= cores ? `${cores} (full)` : `${fixed(threads, 1)} (${fixed((threads / cores) * 100, 0)}%)`;
}

const LABEL: Readonly<Record<Variant, string>> = { auto: "'auto'", single: 'false' };

/** The variant the derived table uses: one task per message, as 'auto' runs tasks of >= 2 ms. */
export const DERIVED_FROM: Variant = 'single';

export function markdown(table: readonly Row[], m: Measured, runs: number): string {
  const derivedHead = JOB_CPU_MS.flatMap((c) => [`C = ${c} ms: C/m`, ...MACHINES.map((n) => `${n} cores`)]);
  const single = table.filter((r) => r.variant === DERIVED_FROM);
  return [
    `Medians of ${runs} round(s). Machine noise: CPU used by other processes during the child's life: ${fixed(m.othersCpuPct, 0)}% of the 2 cores.`,
    '',
    '| payload | batch | tasks/s | main thread µs/task (m) | max tasks/s = 1e6/m | main thread ELU | main thread on CPU | process CPU µs/task | tasks per batch (peak) | server CPU µs/req | rounds |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...table.map(
      (r) =>
        `| ${kib(r.sizeBytes)} | ${LABEL[r.variant]} | ${fixed(r.tasksPerS, 0)} | **${fixed(r.mainUs, 1)}** | ${fixed(r.maxTasksPerS, 0)} | ` +
        `${fixed(r.elu, 2)} | ${fixed(r.mainOnCpu * 100, 0)}% | ${fixed(r.processUs, 1)} | ${fixed(r.tasksPerBatch, 1)} (${fixed(r.batchPeak, 0)}) | ` +
        `${fixed(r.serverUs, 1)} | ${r.runs}/${runs} |`,
    ),
    '',
    '- **m**: CPU time of the main thread alone per task (schedstat), with the io stage, the HTTP client, the body and the hand-off ' +
      "to the threads all on it (from stat's 10 ms ticks: " +
      `${table.map((r) => `${kib(r.sizeBytes)} ${LABEL[r.variant]} ${fixed(r.mainTickUs, 1)}`).join(', ')} µs). ` +
      '**max tasks/s** = 1e6 / m: what one main thread carries when it has a core to itself.',
    '- **main thread ELU**: `executor.stats().mainThread.utilization` over the timed run (near 1: the main thread is the bottleneck; ' +
      `read around the run with \`performance.eventLoopUtilization()\`: ${table.map((r) => `${kib(r.sizeBytes)} ${LABEL[r.variant]} ${fixed(r.ownElu, 2)}`).join(', ')}). ` +
      '**main thread on CPU**: its CPU time ÷ wall, which is also tasks/s reached ÷ max tasks/s; below the ELU where it waited for a core ' +
      '(on 2 cores it shares them with the worker threads and the doc servers).',
    "- **process CPU**: all the child's threads (main, workers, V8's GC and compiler threads) per task. **tasks per batch**: tasks ÷ " +
      "messages to the threads (the cpu stage's `stats().stages[1].batch`), and the largest batch. **server CPU**: the doc server " +
      'process per request, warm-ups included (not on the measured thread).',
    '',
    "What one process can fill: a job whose tasks carry C ms of cpu work keeps at most C / m threads busy, because the main thread's " +
      'm per task paces every task. With more cores than that, the rest stay idle: parse in a cpu stage, or run more processes. ' +
      `m from the \`batch: false\` rows (one task per message, the body moved: what 'auto' does for tasks of 2 ms and more).`,
    '',
    `| payload | m µs | ${derivedHead.join(' | ')} |`,
    `|---|---:|${derivedHead.map(() => '---:').join('|')}|`,
    ...single.map((r) => {
      const cells = JOB_CPU_MS.flatMap((c) => {
        const t = busyThreads(c, r.mainUs);
        return [fixed(t, 1), ...MACHINES.map((n) => onMachine(t, n))];
      });
      return `| ${kib(r.sizeBytes)} | ${fixed(r.mainUs, 1)} | ${cells.join(' | ')} |`;
    }),
    '',
    '**N cores**: min(N, C/m) threads kept busy, and that share of N; "full" when one process can fill the machine. m is the main ' +
      "thread's CPU time, not its wall time, so a bigger machine's main thread pays about the same (memory bandwidth aside); the main " +
      'thread itself needs one more core.',
    '',
  ].join('\n');
}

export function checks(m: Measured, table: readonly Row[]): Check[] {
  const all = m.results;
  const complete = all.length === m.expected && all.every((r) => r.pulled > 0 && r.completed === r.pulled && r.failed === 0);
  const largest = Math.max(...table.map((r) => r.sizeBytes));
  const atLargest = table.filter((r) => r.sizeBytes === largest);
  const failed = all.filter((r) => r.failed > 0);
  const sizes = [...new Set(table.map((r) => r.sizeBytes))];
  return [
    {
      claim: 'every task completed, at every size with every batching in every round',
      pass: complete,
      detail:
        `${all.length}/${m.expected} timed runs reported, ${int(all.reduce((a, r) => a + r.completed, 0))}/${int(all.reduce((a, r) => a + r.pulled, 0))} tasks completed` +
        (failed.length > 0
          ? `; failed: ${failed.map((r) => `${kib(r.sizeBytes)} ${r.variant} ${r.failed} (${r.firstError ?? '?'})`).join(', ')}`
          : '') +
        (m.note !== undefined ? `; child: ${m.note}` : ''),
      structural: true,
    },
    {
      claim: 'the io stage never ran more fetches at once than its concurrency (stats peakRunning)',
      pass: all.length > 0 && all.every((r) => r.ioPeakRunning <= r.ioCapacity),
      detail: sizes
        .map((size) => {
          const rs = all.filter((r) => r.sizeBytes === size);
          return `${kib(size)}: ${rs.length > 0 ? Math.max(...rs.map((r) => r.ioPeakRunning)) : 'n/a'}/${rs[0]?.ioCapacity ?? 'n/a'}`;
        })
        .join(', '),
      structural: true,
    },
    {
      claim: `at ${kib(largest)}, the main thread is the bottleneck: its event-loop utilisation >= 0.9 (both batchings)`,
      pass: atLargest.length > 0 && atLargest.every((r) => r.elu >= 0.9),
      detail: atLargest
        .map(
          (r) =>
            `batch ${LABEL[r.variant]}: ELU ${fixed(r.elu, 2)} (per round ${all
              .filter((x) => x.sizeBytes === largest && x.variant === r.variant)
              .map((x) => x.elu.toFixed(2))
              .join(', ')}), on CPU ${fixed(r.mainOnCpu * 100, 0)}% of the wall`,
        )
        .join('; '),
      structural: false,
    },
  ];
}
