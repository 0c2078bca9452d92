/**
 * The scale-out scenario's figures, tables and checks, from its run records. Figures are medians
 * over rounds; comparisons (3 adaptive nodes against 1, the queue against no queue) are paired
 * within a round, then their median is taken.
 */
import { fixed, int } from '../harness/format.js';
import { medianOrNaN } from '../harness/stats.js';
import type { Check } from '../harness/types.js';
import type { Via } from './nodes.js';
import type {
  NodeEnd,
  OverheadRecord,
  OverheadSettings,
  Policy,
  RecoveryRecord,
  RecoverySettings,
  ThroughputRecord,
  ThroughputSettings,
} from './runs.js';

/** The simulated service's settings. */
export interface Service {
  readonly capacity: number;
  readonly latencyMs: number;
  readonly queueBound: number;
  readonly retryAfterS: number;
  readonly overloadPenalty: number;
}

/** What a scenario run measures, and how much. */
export interface Sizes {
  readonly throughput: ThroughputSettings;
  readonly overhead: OverheadSettings;
  readonly shortRecovery: RecoverySettings;
  /** The recovery with the default lock settings (once per bench run; not with --quick). */
  readonly defaultRecovery?: RecoverySettings;
}

export interface Targets {
  /** 3 adaptive nodes get at least this share of the service's capacity. */
  readonly capacityShare: number;
}

export interface Row {
  readonly policy: Policy;
  readonly nodes: number;
  readonly runs: number;
  /** Served per second in the window: median, lowest, highest; and its share of the capacity. */
  readonly served: number;
  readonly servedMin: number;
  readonly servedMax: number;
  readonly share: number;
  /** 503s in the window: median, lowest, highest; and over the whole run. */
  readonly rejected: number;
  readonly rejectedMin: number;
  readonly rejectedMax: number;
  readonly rejectedTotal: number;
  /** Tasks failed in the window (3 attempts rejected), median. */
  readonly failed: number;
  readonly peakInFlight: number;
  readonly peakQueue: number;
  /** Jobs a node held at its peak (the most over the nodes), median. */
  readonly peakHeld: number;
}

export interface Figures {
  readonly capacityPerSecond: number;
  readonly rows: readonly Row[];
  /** Per round: 503s of 3 adaptive nodes minus those of 1 adaptive node. */
  readonly adaptive3Minus1: readonly number[];
  readonly overhead: {
    readonly queue: number;
    readonly direct: number;
    /** queue ÷ direct, paired within a round: median and each round. */
    readonly ratio: number;
    readonly ratios: readonly number[];
    readonly enqueue: number;
    /** Redis bytes per job: waiting, and completed with its result kept. */
    readonly bytesWaiting: number;
    readonly bytesCompleted: number;
  };
  readonly recovery: {
    readonly short?: RecoveryFigures;
    readonly default?: RecoveryFigures;
  };
}

export interface RecoveryFigures {
  readonly runs: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly recovered: number;
  readonly reclaimedMs: number;
  readonly recoveredMs: number;
  readonly survivorExitMs: number;
  readonly idleFromMs: number;
  /** Each run's kill → last recovered job done, ms. */
  readonly each: readonly number[];
}

const med = (xs: readonly number[]): number => medianOrNaN(xs.filter((x) => Number.isFinite(x)));
const peakHeldOf = (r: ThroughputRecord): number => Math.max(0, ...r.ends.map((e) => e.report?.stats?.peakHeld ?? 0));

export function figures(
  throughput: readonly ThroughputRecord[],
  overhead: readonly OverheadRecord[],
  recoveries: readonly RecoveryRecord[],
  service: Service,
): Figures {
  const capacityPerSecond = (service.capacity * 1000) / service.latencyMs;
  const keys = [...new Set(throughput.map((r) => `${r.policy}:${r.nodes}`))];
  const rows = keys.map((key): Row => {
    const rs = throughput.filter((r) => `${r.policy}:${r.nodes}` === key);
    const served = rs.map((r) => r.servedPerSecond);
    const rejected = rs.map((r) => r.rejected);
    return {
      policy: rs[0]!.policy,
      nodes: rs[0]!.nodes,
      runs: rs.length,
      served: med(served),
      servedMin: Math.min(...served),
      servedMax: Math.max(...served),
      share: med(served) / capacityPerSecond,
      rejected: med(rejected),
      rejectedMin: Math.min(...rejected),
      rejectedMax: Math.max(...rejected),
      rejectedTotal: med(rs.map((r) => r.rejectedTotal)),
      failed: med(rs.map((r) => r.failedInWindow)),
      peakInFlight: med(rs.map((r) => r.peakInFlight)),
      peakQueue: med(rs.map((r) => r.peakQueue)),
      peakHeld: med(rs.map(peakHeldOf)),
    };
  });
  rows.sort((a, b) => a.policy.localeCompare(b.policy) || a.nodes - b.nodes);
  const rounds = [...new Set(throughput.map((r) => r.round))];
  const adaptive3Minus1 = rounds.flatMap((round) => {
    const of = (n: number): ThroughputRecord | undefined =>
      throughput.find((r) => r.round === round && r.policy === 'adaptive' && r.nodes === n);
    const [one, three] = [of(1), of(3)];
    return one !== undefined && three !== undefined ? [three.rejected - one.rejected] : [];
  });
  const ratios = overhead.map((o) => o.queuePerSecond / o.directPerSecond);
  const recoveryOf = (label: RecoveryRecord['label']): RecoveryFigures | undefined => {
    const rs = recoveries.filter((r) => r.label === label);
    if (rs.length === 0) return undefined;
    return {
      runs: rs.length,
      lockDurationMs: rs[0]!.lockDurationMs,
      stalledIntervalMs: rs[0]!.stalledIntervalMs,
      recovered: med(rs.map((r) => r.recovered)),
      reclaimedMs: med(rs.map((r) => r.reclaimedMs)),
      recoveredMs: med(rs.map((r) => r.recoveredMs)),
      survivorExitMs: med(rs.map((r) => r.survivorExitMs)),
      idleFromMs: med(rs.map((r) => r.idleFromMs)),
      each: rs.map((r) => r.recoveredMs),
    };
  };
  const short = recoveryOf('short');
  const dflt = recoveryOf('default');
  return {
    capacityPerSecond,
    rows,
    adaptive3Minus1,
    overhead: {
      queue: med(overhead.map((o) => o.queuePerSecond)),
      direct: med(overhead.map((o) => o.directPerSecond)),
      ratio: med(ratios),
      ratios,
      enqueue: med(overhead.map((o) => o.enqueuePerSecond)),
      bytesWaiting: med(overhead.map((o) => (o.memory.waiting - o.memory.empty) / o.tasks)),
      bytesCompleted: med(overhead.map((o) => (o.memory.completed - o.memory.empty) / o.tasks)),
    },
    recovery: { ...(short !== undefined ? { short } : {}), ...(dflt !== undefined ? { default: dflt } : {}) },
  };
}

export function method(service: Service, sizes: Sizes, rounds: number, buildMode: 'bundle' | 'tsx', via: Via, quick: boolean): string {
  const t = sizes.throughput;
  const cap = (service.capacity * 1000) / service.latencyMs;
  const short = sizes.shortRecovery;
  const child = `bench/scale-out/worker-child.ts (${buildMode === 'bundle' ? 'compiled to plain ESM by the bench’s build' : 'under tsx'})`;
  const nodes =
    via === 'cli'
      ? `the built CLI, \`sluice worker JOB --queue Q --redis URL --exit-when-drained --io sim=adaptive|${t.fixedLimit} --log json\` (the job reports its outcomes to the bench on stdout from its \`onOutcome\`, the worker its counters in its JSON summary; SIGTERM drains it)`
      : `${child} calling the library's \`runWorker(job, { connection, queue, exitWhenDrained: true })\`, what \`sluice worker JOB --exit-when-drained\` runs`;
  return [
    `The bench starts its own \`redis-server\` (7.x, on a free port on 127.0.0.1, no persistence) and the service simulator in its own process; every run starts from an empty Redis (FLUSHALL), enqueues its tasks with the library's \`enqueue\` (from the bench process, with the job module's SHA-256 as \`sluice enqueue\` records it), and starts each node as a fresh process: ${nodes}. The job modules are plain ESM in bench/scale-out/ importing sluice by package name. ${rounds} round(s); figures are medians over rounds, comparisons paired within a round.`,
    '',
    `**Scaling**: the service has C_s = ${service.capacity} workers at ${service.latencyMs} ms per request (capacity ${int(cap)} req/s), a queue of ${service.queueBound} beyond them, and answers 503 with Retry-After ${service.retryAfterS} s past that (the adaptive scenario's simulator; no overload penalty here, so an overload shows as requests waiting and 503s rather than as a slower service). The job (sim-job.mjs) is one io stage that calls it behind the job's service \`sim\`: its limit on each node is the adaptive default (vegas), or fixed at ${t.fixedLimit} (what \`--io sim=adaptive\` / \`--io sim=${t.fixedLimit}\` give), with the default retries (3 attempts, Retry-After honoured). The nodes know nothing of each other or of C_s. 1, 2 and 3 nodes with each limit make six runs a round (${quick ? 'with --quick only 1 and 3 nodes: four' : 'with --quick only 1 and 3'}), in an order rotated per round; each enqueues ${int(t.tasks)} tasks (more than the window can finish), starts the nodes together and waits for every node's first outcome, then ${t.warmupMs / 1000} s of warm-up (the adaptive limits ramp from 4), then measures ${t.windowMs / 1000} s: requests served (200) per second and 503s answered, from the simulator's counters at both ends of the window; the tasks that failed in it from the nodes' outcomes. Then the nodes are stopped: drained (stop claiming, finish what they hold), and ${via === 'cli' ? 'a second SIGTERM' : 'aborted'} 0.5 s later (what they still hold, e.g. while paused by a Retry-After, goes back to waiting).`,
    '',
    `**Overhead**: a no-op job (noop-job.mjs: one io stage returning its task, concurrency ${sizes.overhead.concurrency}) over ${int(sizes.overhead.tasks)} tasks, run by one node on the queue (enqueued first, then ${via === 'cli' ? '`sluice worker`' : '`runWorker`'} until drained) and by ${child} with \`createExecutor\` over the job's own input in one process (the job built as \`runWorker\` builds it; ${int(sizes.overhead.directTasks)} tasks, since ${int(sizes.overhead.tasks)} take only tens of ms there), each a fresh process, their order alternating per round. Tasks/s from a node's first outcome to its last. Redis memory: INFO \`used_memory\` of the empty Redis, after the enqueue (the jobs waiting) and after the run (the jobs completed, their results kept until read), over the number of tasks.`,
    '',
    `**Recovery**: two nodes on ${int(short.tasks)} tasks of ${short.sleepMs} ms each (concurrency ${short.concurrency} per node); once ${Math.round(short.killAtShare * 100)}% of them completed, one node is killed with SIGKILL. The survivor finishes the waiting tasks and, with \`exitWhenDrained\`, keeps pulling until the killed node's jobs come back (BullMQ's stalled-job check, which the worker runs itself), runs them and exits. Times from the kill, read from the jobs' own timestamps in Redis: the first of the killed node's jobs claimed again (\`processedOn\` of the jobs started twice), the last of them completed (\`finishedOn\`), and the survivor's exit. The lock settings bound it: a dead node's lock lapses within the lock duration of its last renewal, and the next stalled check after that finds the job in the stalled set and returns it to waiting, so recovery ≤ lock duration + stalled interval (plus the task). Each round measures it with short settings (\`--lock-duration ${short.lockDurationMs} --stalled-interval ${short.stalledIntervalMs}\`); ${quick ? 'the defaults (30 s, 30 s) are not measured with --quick (they take 30 to 60 s)' : 'the defaults (30 s lock, 30 s stalled interval) once per bench run, alongside the rounds: on a redis-server of its own, started first, the rounds beginning once its survivor has nothing left but the killed node’s jobs (it then sits blocked on its next-job call until the stalled check), so it does not add its 30 to 60 s to the scenario'}.`,
  ].join('\n');
}

export function tables(
  f: Figures,
  service: Service,
  sizes: Sizes,
  rounds: number,
  load: { readonly start: number; readonly end: number },
): string {
  const row = (r: Row): string =>
    `| ${r.policy === 'adaptive' ? 'adaptive (vegas)' : `fixed ${sizes.throughput.fixedLimit}`} | ${r.nodes} | **${int(r.served)}** | ${int(r.servedMin)}–${int(r.servedMax)} | ${fixed(r.share, 3)} | **${int(r.rejected)}** | ${int(r.rejectedMin)}–${int(r.rejectedMax)} | ${int(r.rejectedTotal)} | ${int(r.failed)} | ${int(r.peakInFlight)} + ${int(r.peakQueue)} | ${int(r.peakHeld)} | ${r.runs} |`;
  const secs = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : 'n/a');
  const rec = (what: string, r: RecoveryFigures | undefined): string[] =>
    r === undefined
      ? []
      : [
          `| ${what} | ${int(r.lockDurationMs)} / ${int(r.stalledIntervalMs)} | ${int(r.recovered)} | ${secs(r.reclaimedMs)} | **${secs(r.recoveredMs)}** | ${secs(r.survivorExitMs)} | ${secs(r.idleFromMs)} | ${secs(r.lockDurationMs + r.stalledIntervalMs)} | ${r.runs} |`,
        ];
  const o = f.overhead;
  return [
    `**Throughput and 503s** against C_s = ${service.capacity} at ${service.latencyMs} ms (capacity **${int(f.capacityPerSecond)} req/s**), over the ${sizes.throughput.windowMs / 1000} s window of each run:`,
    '',
    '| service limit per node | nodes | served/s (median) | range | ÷ capacity | 503s in the window (median) | range | 503s in the whole run | tasks failed in the window | peak in service + waiting at the service | peak jobs held by a node | runs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...f.rows.map(row),
    '',
    `3 adaptive nodes against 1, 503s in the window (paired per round): ${f.adaptive3Minus1.map((d) => (d >= 0 ? `+${int(d)}` : int(d))).join(', ') || 'n/a'}.`,
    '',
    `**The queue's overhead** (a no-op job, ${int(sizes.overhead.tasks)} tasks, one node; tasks/s from the first outcome to the last):`,
    '',
    '| run | tasks/s (median) |',
    '|---|---:|',
    `| \`createExecutor\` in one process, no queue (${int(sizes.overhead.directTasks)} tasks) | ${int(o.direct)} |`,
    `| one worker on the queue | ${int(o.queue)} |`,
    `| queue ÷ no queue (paired) | **×${fixed(o.ratio, 3)}** (per round ${o.ratios.map((r) => fixed(r, 3)).join(', ')}) |`,
    `| \`enqueue\` (tasks added per second) | ${int(o.enqueue)} |`,
    '',
    `Redis memory (INFO used_memory, over ${int(sizes.overhead.tasks)} tasks): **${int(o.bytesWaiting)} bytes per waiting job**, ${int(o.bytesCompleted)} bytes per completed job (its result kept until read). A task here is a small number; each job's hash holds its data (key, position, index, task) as JSON, its options and timestamps, plus its id in the wait list.`,
    '',
    `**Recovery after a \`kill -9\`** of one of 2 nodes (times from the kill, s; ${rounds} round(s) with short settings, the defaults once):`,
    '',
    '| lock settings | lock / stalled interval (ms) | jobs of the killed node | back on the survivor | all done | survivor exit | survivor idle from | bound (lock + interval) | runs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rec('default', f.recovery.default),
    ...rec('short', f.recovery.short),
    '',
    f.recovery.default === undefined
      ? 'The default settings (30 s lock, 30 s stalled interval) were not measured in this run (--quick).'
      : "Near the bound is what a node that dies soon after it claimed its jobs leaves: it renews its locks at half the lock duration, so dying before its first renewal, its locks lapse a whole lock duration after the claims; the survivor's stalled checks come one interval apart, and the one just before the locks lapse puts the jobs in the stalled set without moving them (their locks still hold), so the next one, a whole interval later, moves them. A node that dies later in its life leaves locks lapsing between half and a whole lock duration after the kill, then up to an interval for the check.",
    '',
    `The machine is shared (2 vCPU): its load average (1 min) was ${fixed(load.start, 1)} at the start of the scenario and ${fixed(load.end, 1)} at its end. The nodes, Redis, the simulator and the bench share its two cores, so CPU contention shows in the service's round-trip times as the limits see them, and in the claim rate.`,
  ].join('\n');
}

/**
 * A node ended as asked: with its report, no error, for the reason expected; exit 0, or for a
 * `sluice worker` stopped by SIGTERM, 130 (the CLI's exit code after a signal) or the signal itself
 * when it came after the worker's summary (the bench's second SIGTERM reaching a worker that had
 * finished draining and was winding down: its summary is complete).
 */
const endedAs = (e: NodeEnd, reasons: readonly string[]): boolean =>
  e.report !== undefined &&
  (e.code === 0 || ((e.code === 130 || e.signal === 'SIGTERM') && ['drain', 'abort'].includes(e.report.reason))) &&
  e.report.error === undefined &&
  reasons.includes(e.report.reason);

export function checks(
  f: Figures,
  throughput: readonly ThroughputRecord[],
  overhead: readonly OverheadRecord[],
  recoveries: readonly RecoveryRecord[],
  service: Service,
  t: Targets,
): Check[] {
  const badEnds = [
    ...throughput.flatMap((r) =>
      r.ends
        .filter((e) => !endedAs(e, ['drain', 'drained', 'abort']))
        .map((e) => `${r.policy}×${r.nodes} r${r.round + 1}: ${e.note ?? e.report?.reason}`),
    ),
    ...overhead.flatMap((o) => [
      ...(endedAs(o.queueEnd, ['drained']) ? [] : [`overhead queue r${o.round + 1}: ${o.queueEnd.note ?? o.queueEnd.report?.reason}`]),
      ...(endedAs(o.directEnd, ['done']) ? [] : [`overhead direct r${o.round + 1}: ${o.directEnd.note ?? o.directEnd.report?.reason}`]),
    ]),
    ...recoveries.flatMap((r) =>
      endedAs(r.survivor, ['drained'])
        ? []
        : [`recovery ${r.label} r${r.round + 1}: survivor ${r.survivor.note ?? r.survivor.report?.reason}`],
    ),
  ];
  const stored = (e: NodeEnd): number => (e.report?.stats?.completed ?? 0) + (e.report?.stats?.failed ?? 0);
  const badCounts = throughput.filter((r) => {
    const c = r.counts;
    const inQueue = c.completed + c.failed;
    return c.active !== 0 || c.waiting + c.delayed + inQueue !== r.tasks || r.ends.reduce((n, e) => n + stored(e), 0) !== inQueue;
  });
  const badOverhead = overhead.filter(
    (o) =>
      o.counts.completed !== o.tasks ||
      o.counts.failed !== 0 ||
      o.queueEnd.report?.outcomes !== o.tasks ||
      o.directEnd.report?.outcomes !== o.directTasks,
  );
  const badRecovery = recoveries.filter(
    (r) =>
      r.counts.completed !== r.tasks ||
      r.counts.failed !== 0 ||
      r.counts.waiting + r.counts.active + r.counts.delayed !== 0 ||
      r.recovered < 1 ||
      r.overRun !== 0 ||
      (r.survivor.report?.stats?.dropped ?? 0) !== 0,
  );
  const row = (policy: Policy, nodes: number): Row | undefined => f.rows.find((r) => r.policy === policy && r.nodes === nodes);
  const [a1, a3, f3] = [row('adaptive', 1), row('adaptive', 3), row('fixed', 3)];
  const cap = f.capacityPerSecond;
  const describeCounts = (r: ThroughputRecord): string =>
    `${r.policy}×${r.nodes} r${r.round + 1}: ${JSON.stringify(r.counts)}, nodes stored ${r.ends.map(stored).join('+')}`;
  const d = f.recovery.default;
  const checksOut: Check[] = [
    {
      claim: 'every node exits as asked (drained, or stopped on request) with its report; the direct runs finish',
      pass: badEnds.length === 0,
      detail:
        badEnds.length === 0
          ? `${throughput.reduce((n, r) => n + r.ends.length, 0) + 2 * overhead.length + recoveries.length} nodes`
          : badEnds.slice(0, 3).join('; '),
      structural: true,
    },
    {
      claim:
        'throughput runs: after the nodes stopped, no job is left active, every task is waiting or has one outcome, and the outcomes in Redis are exactly those the nodes stored',
      pass: throughput.length > 0 && badCounts.length === 0,
      detail: badCounts.length === 0 ? `${throughput.length} runs` : badCounts.slice(0, 3).map(describeCounts).join('; '),
      structural: true,
    },
    {
      claim: 'overhead runs: every task completed once, through the queue and without it',
      pass: overhead.length > 0 && badOverhead.length === 0,
      detail:
        badOverhead.length === 0
          ? `${overhead.length} pairs of ${int(overhead[0]?.tasks ?? 0)} tasks`
          : badOverhead
              .map(
                (o) =>
                  `r${o.round + 1}: ${JSON.stringify(o.counts)}, queue ${o.queueEnd.report?.outcomes}, direct ${o.directEnd.report?.outcomes}`,
              )
              .join('; '),
      structural: true,
    },
    {
      claim:
        "after a kill -9 of one of 2 nodes, every task completed exactly once (none failed, none started more than twice, no late outcome stored), the killed node's jobs ran again on the survivor, and it exited drained",
      pass: recoveries.length > 0 && badRecovery.length === 0,
      detail:
        badRecovery.length === 0
          ? recoveries
              .map((r) => `${r.label}: ${r.recovered} jobs recovered, ${int(r.counts.completed)}/${int(r.tasks)} completed`)
              .join('; ')
          : badRecovery
              .map(
                (r) =>
                  `${r.label} r${r.round + 1}: ${JSON.stringify(r.counts)}, recovered ${r.recovered}, over-run ${r.overRun}, dropped ${r.survivor.report?.stats?.dropped}`,
              )
              .join('; '),
      structural: true,
    },
    {
      claim: `3 adaptive nodes serve ≥ ${t.capacityShare} of the service's capacity (${int(cap)} req/s)`,
      pass: a3 !== undefined && a3.share >= t.capacityShare,
      detail:
        a3 !== undefined
          ? `${fixed(a3.served, 1)} req/s: ${fixed(a3.share, 3)} of capacity (1 node: ${fixed(a1?.served, 1)} req/s; 3 nodes per round: ${throughput
              .filter((r) => r.policy === 'adaptive' && r.nodes === 3)
              .map((r) => fixed(r.servedPerSecond, 1))
              .join(', ')})`
          : 'not run',
      structural: false,
    },
    {
      claim: '3 adaptive nodes get no more 503s than one adaptive node alone',
      pass: a1 !== undefined && a3 !== undefined && a3.rejected <= a1.rejected,
      detail: `${int(a3?.rejected ?? Number.NaN)} vs ${int(a1?.rejected ?? Number.NaN)} in the window (medians; paired per round: ${f.adaptive3Minus1.map((x) => (x >= 0 ? `+${int(x)}` : int(x))).join(', ')})`,
      structural: false,
    },
    {
      claim: `3 nodes with a fixed limit of 20 overload the service (503s, C_s = ${service.capacity})`,
      pass: f3 !== undefined && f3.rejected > 0,
      detail:
        f3 !== undefined
          ? `${int(f3.rejected)} 503s in the window (${int(f3.rejectedTotal)} in the run), ${int(f3.failed)} task(s) failed, ${fixed(f3.served, 1)} req/s served: ${fixed(f3.share, 3)} of capacity`
          : 'not run',
      structural: false,
    },
  ];
  if (d !== undefined) {
    checksOut.push({
      claim: 'with the default lock settings, a killed node’s jobs complete elsewhere within lock duration + stalled interval (60 s)',
      pass: d.recoveredMs <= d.lockDurationMs + d.stalledIntervalMs + 1000,
      detail: `${fixed(d.recoveredMs / 1000, 1)} s (back after ${fixed(d.reclaimedMs / 1000, 1)} s)`,
      structural: false,
    });
  }
  return checksOut;
}
