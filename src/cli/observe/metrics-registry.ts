/**
 * The Prometheus metrics of a run, in a private registry (never prom-client's global one, so two
 * runs in one process, or a host application's own metrics, never collide).
 *
 * Gauges are read from one snapshot per scrape. Figures that only grow (attempts, retries, pauses,
 * tasks pulled) are counters: at each scrape they advance by what the stats grew since the last
 * one, so `rate()` and `increase()` work on them. The attempt-duration histogram and the outcome
 * counters are fed as things happen.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptEvent } from '../../index.js';
import { SluiceOptionError } from '../../index.js';
import { OBSERVE_DEFAULTS } from './defaults.js';
import type { RunSnapshot } from './snapshot.js';

type Labels = Partial<Record<string, string>>;

export interface RunMetrics {
  readonly registry: Registry;
  /** The content type of `scrape()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The text exposition of every metric, read from one snapshot. */
  scrape(): Promise<string>;
  /** Counts one outcome written: completed, or failed (in `stage`, when known). */
  recordOutcome(outcome: { readonly ok: boolean; readonly stage?: string }): void;
  /** Counts and times one attempt of a service call (a `service.observe` listener). */
  recordAttempt(event: AttemptEvent): void;
}

export interface RunMetricsOptions {
  readonly snapshot: () => RunSnapshot;
  /** @default OBSERVE_DEFAULTS.metricsPrefix ('sluice_') */
  readonly prefix?: string;
  /** Histogram buckets in seconds. @default OBSERVE_DEFAULTS.attemptBuckets (1 ms … 30 s) */
  readonly buckets?: readonly number[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function createRunMetrics(options: RunMetricsOptions): RunMetrics {
  const prefix = options.prefix ?? OBSERVE_DEFAULTS.metricsPrefix;
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME.test(prefix))) {
    throw new SluiceOptionError('metrics prefix', 'a Prometheus name prefix such as "sluice_"', prefix);
  }
  if (typeof options.snapshot !== 'function') throw new SluiceOptionError('snapshot', 'a function', options.snapshot);
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix });

  // One snapshot per scrape: prom-client runs every collect() synchronously inside metrics(), so
  // they all see `held`; outside a scrape (someone else calling metrics()) each takes its own.
  let held: RunSnapshot | undefined;
  const current = (): RunSnapshot => held ?? options.snapshot();

  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: RunSnapshot, set: (labels: Labels, v: number) => void) => void,
  ): void => {
    new Gauge({
      name: prefix + name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        read(current(), (labels, v) => this.set(labels, v));
      },
    });
  };
  const counter = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: RunSnapshot, set: (labels: Labels, v: number) => void) => void,
  ): void => {
    const last = new Map<string, number>();
    new Counter({
      name: prefix + name,
      help,
      labelNames,
      registers,
      collect() {
        read(current(), (labels, value) => {
          const key = JSON.stringify(labels);
          const before = last.get(key);
          last.set(key, value);
          if (before !== undefined && value >= before) {
            if (value > before) this.inc(labels, value - before);
            return;
          }
          // First sight (the series starts at its value), or the stats went back: a counter reset.
          if (before !== undefined) this.remove(labels);
          this.inc(labels, value);
        });
      },
    });
  };

  gauge('service_limit', 'The concurrency limit of a service now.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.limit);
  });
  gauge('service_in_flight', 'Attempts running against a service now.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.inFlight);
  });
  gauge('service_queued', 'Calls waiting for a slot of a service.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.queued);
  });
  counter('service_calls_total', 'Calls made to a service.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.calls);
  });
  counter('service_attempts_total', 'Attempts of service calls, by how they were classified.', ['service', 'outcome'], (s, set) => {
    for (const v of s.services) {
      set({ service: v.name, outcome: 'success' }, v.successes);
      set({ service: v.name, outcome: 'dropped' }, v.dropped);
      set({ service: v.name, outcome: 'ignore' }, v.ignored);
    }
  });
  counter('service_retries_total', 'Retries of dropped attempts.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.retries);
  });
  counter('service_failed_calls_total', 'Calls that failed after their last attempt.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.failed);
  });
  counter('service_retry_after_pauses_total', 'Pauses of a whole service imposed by a Retry-After header.', ['service'], (s, set) => {
    for (const v of s.services) set({ service: v.name }, v.pauses);
  });

  const stage = ['stage', 'kind'];
  gauge('stage_active', 'Tasks holding a slot of a stage (running, or done and waiting for room downstream).', stage, (s, set) => {
    for (const v of s.stats.stages) set({ stage: v.name, kind: v.kind }, v.active);
  });
  gauge('stage_running', 'Tasks running in a stage now (io call in flight, or on a worker thread).', stage, (s, set) => {
    for (const v of s.stats.stages) set({ stage: v.name, kind: v.kind }, v.running);
  });
  gauge('stage_capacity', 'Most tasks a stage holds at once: io concurrency, or cpu threads times the batch size.', stage, (s, set) => {
    for (const v of s.stats.stages) set({ stage: v.name, kind: v.kind }, v.capacity);
  });
  gauge('stage_batch_size', 'Tasks a free thread of a cpu stage receives in one message now (B; 1: no batching).', stage, (s, set) => {
    for (const v of s.stats.stages) if (v.batch !== undefined) set({ stage: v.name, kind: v.kind }, v.batch.size);
  });
  counter('stage_batches_total', 'Batches (messages to a thread) a cpu stage sent.', stage, (s, set) => {
    for (const v of s.stats.stages) if (v.batch !== undefined) set({ stage: v.name, kind: v.kind }, v.batch.batches);
  });
  counter('stage_tasks_total', 'Tasks that left a stage, by result.', [...stage, 'result'], (s, set) => {
    for (const v of s.stats.stages) {
      set({ stage: v.name, kind: v.kind, result: 'completed' }, v.completed);
      set({ stage: v.name, kind: v.kind, result: 'failed' }, v.failed);
    }
  });

  gauge('buffer_size', 'Payloads in a buffer between stages (or outcomes waiting to be written).', ['buffer'], (s, set) => {
    for (const b of s.stats.buffers) set({ buffer: b.name }, b.size);
  });
  gauge('buffer_bound', 'The bound of a buffer.', ['buffer'], (s, set) => {
    for (const b of s.stats.buffers) set({ buffer: b.name }, b.bound);
  });
  gauge('buffered_payloads', 'Payloads that finished a stage and wait for the next one.', [], (s, set) => set({}, s.stats.buffered.size));
  counter('tasks_pulled_total', 'Tasks taken from the input.', [], (s, set) => set({}, s.stats.tasks.pulled));
  gauge('tasks_open', 'Tasks pulled and not yet written as an outcome.', [], (s, set) => set({}, s.stats.tasks.open));
  gauge(
    'main_thread_utilization',
    "The main thread's event-loop utilisation over the run, 0 to 1. It runs every io stage and the payload handling.",
    [],
    (s, set) => set({}, s.stats.mainThread.utilization),
  );
  gauge(
    'main_thread_recent_utilization',
    "The main thread's event-loop utilisation over the last few seconds, 0 to 1: near 1 it is the bottleneck, and more threads will not help.",
    [],
    (s, set) => set({}, s.stats.mainThread.recentUtilization),
  );
  gauge('draining', '1 once a first SIGINT stopped the pulling of new tasks.', [], (s, set) => set({}, s.draining ? 1 : 0));

  // Registered on the first scrape that knows it, so a stream of unknown length shows no false 0.
  let input: Gauge | undefined;
  const ensureInput = (s: RunSnapshot): void => {
    if (s.total === undefined || input !== undefined) return;
    input = new Gauge({
      name: `${prefix}input_tasks`,
      help: 'Tasks in the input.',
      registers,
      collect() {
        const total = current().total;
        if (total !== undefined) this.set(total);
      },
    });
  };

  // A queue worker's (`sluice worker`): registered on the first scrape whose snapshot has them.
  let queueMetrics = false;
  const ensureQueue = (s: RunSnapshot): void => {
    if (s.queue === undefined || queueMetrics) return;
    queueMetrics = true;
    gauge('queue_jobs', "The queue's jobs by state, over every worker (as of this worker's last look).", ['state'], (v, set) => {
      const jobs = v.queue?.jobs;
      if (jobs === undefined) return;
      for (const [state, n] of Object.entries(jobs)) set({ state }, n);
    });
    gauge('queue_held', 'Jobs this worker holds now: claimed, outcome not stored yet.', [], (v, set) => set({}, v.queue?.held ?? 0));
    gauge('queue_peak_held', 'The most jobs this worker held at once.', [], (v, set) => set({}, v.queue?.peakHeld ?? 0));
    counter('queue_claimed_total', 'Jobs this worker claimed.', [], (v, set) => set({}, v.queue?.claimed ?? 0));
    counter('queue_handed_back_total', 'Jobs this worker handed back to waiting (a stop).', [], (v, set) =>
      set({}, v.queue?.handedBack ?? 0),
    );
    counter('queue_dropped_outcomes_total', "Outcomes dropped because the job's lock was lost (another worker redoes it).", [], (v, set) =>
      set({}, v.queue?.dropped ?? 0),
    );
  };

  // A run in lanes (`--lanes`): registered on the first scrape whose snapshot has them.
  let laneMetrics = false;
  const ensureLanes = (s: RunSnapshot): void => {
    if (s.stats.lanes === undefined || laneMetrics) return;
    laneMetrics = true;
    gauge(
      'lane_utilization',
      "A lane's event-loop utilisation over the last few seconds, 0 to 1: its io stages and payload handling run on it, so near 1 in every lane, more lanes (not threads) help.",
      ['lane'],
      (v, set) => {
        for (const lane of v.stats.lanes?.lanes ?? []) set({ lane: String(lane.lane) }, lane.recentUtilization);
      },
    );
    gauge('lanes_held', 'Tasks the lanes hold now: sent to a lane, not answered yet.', [], (v, set) => set({}, v.stats.lanes?.held ?? 0));
    counter('lane_restarts_total', 'Lanes started again after one stopped.', [], (v, set) => set({}, v.stats.lanes?.restarts ?? 0));
  };

  const outcomes = new Counter({
    name: `${prefix}outcomes_total`,
    help: 'Outcomes written, by result (and the failing stage).',
    labelNames: ['result', 'stage'],
    registers,
  });
  const durations = new Histogram({
    name: `${prefix}service_attempt_duration_seconds`,
    help: 'Duration of service call attempts, by how they were classified.',
    labelNames: ['service', 'outcome'],
    buckets: [...(options.buckets ?? OBSERVE_DEFAULTS.attemptBuckets)],
    registers,
  });

  return {
    registry,
    contentType: registry.contentType,
    scrape() {
      const s = options.snapshot();
      ensureInput(s);
      ensureQueue(s);
      ensureLanes(s);
      held = s;
      try {
        return registry.metrics();
      } finally {
        held = undefined;
      }
    },
    recordOutcome(outcome) {
      const labels: Labels = { result: outcome.ok ? 'completed' : 'failed' };
      if (outcome.stage !== undefined) labels.stage = outcome.stage;
      outcomes.inc(labels);
    },
    recordAttempt(event) {
      durations.observe({ service: event.service, outcome: event.outcome }, Math.max(0, event.latencyMs) / 1000);
    },
  };
}
