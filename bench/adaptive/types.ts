/**
 * What the adaptive bench's processes exchange and record: the scenario (phases of the simulated
 * service's capacity), the strategy child's time series and totals, and one run's raw record.
 * Times are ms since the run's start (the orchestrator resets the simulator and tells the child to
 * start at the same moment; the stdin hop between them is well under one 100 ms sample).
 */
import type { ServiceStats } from 'sluice';
import type { LatencySummary, SeriesSample } from '../harness/simulator.js';

export interface Scenario {
  /** Capacity C_s of each phase, in order. */
  readonly capacities: readonly number[];
  readonly phaseMs: number;
  readonly latencyMs: number;
  readonly queueBound: number;
  readonly retryAfterS: number;
  readonly overloadPenalty: number;
  /** Online traffic on /online, open loop, req/s. */
  readonly onlineRate: number;
  /** Sampling period of the child and the simulator, ms. */
  readonly sampleMs: number;
  /** A phase's first `transientShare` is its transient; the rest its steady part. */
  readonly transientShare: number;
  /** Online traffic runs alone this long before t = 0, to open its sockets (not measured). */
  readonly warmupMs: number;
}

/** One sample of the strategy child: cumulative counts and the limit now. */
export interface ChildSample {
  readonly t: number;
  readonly completed: number;
  readonly failed: number;
  readonly limit: number;
  /** Attempts in flight (svc.stats().inFlight): for the throttle, attempts waiting for a token count too. */
  readonly inFlight: number;
  /** HTTP requests sent and not yet answered: what the service sees from this client. */
  readonly outstanding: number;
  /** Dropped attempts so far (503s seen by the batch, timeouts, resets). */
  readonly dropped: number;
}

export interface ChildReport {
  readonly strategy: string;
  readonly series: readonly ChildSample[];
  /** Tasks pulled from the input; each ends completed, failed, or (only if the drain timed out) aborted. */
  readonly pulled: number;
  readonly completed: number;
  readonly failed: number;
  readonly aborted: number;
  /** Failed tasks by cause (error name and message, ids stripped). */
  readonly causes: Readonly<Record<string, number>>;
  readonly service: ServiceStats;
  /** From the stop message to the last outcome. */
  readonly drainMs: number;
}

export interface OnlinePhase {
  /** The phase's transient (first `transientShare`), and its steady rest. */
  readonly transient: LatencySummary;
  readonly steady: LatencySummary;
}

export type RunStatus = 'ok' | 'crash' | 'timeout' | 'lost';

export interface RunRecord {
  readonly round: number;
  readonly strategy: string;
  readonly status: RunStatus;
  readonly note?: string;
  /** Requests per second of the throttle strategy (undefined for the others). */
  readonly rate?: number;
  readonly child?: ChildReport;
  readonly sim: readonly SeriesSample[];
  readonly online: readonly OnlinePhase[];
}
