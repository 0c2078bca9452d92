/**
 * The run loop of the adaptive children (bench/adaptive/child.ts, bench/lanes/adaptive-child.ts):
 * the executor runs over an input that stops yielding once the orchestrator says STOP, so the run
 * settles what is in flight and every pulled task ends completed or failed (its cause counted).
 * Only if draining takes longer than `drainMs` is the run aborted. `sample` is called at the
 * start, every `sampleMs`, and at the end.
 */

import type { ChildSample } from './types.js';

/** What the loop reads of an outcome. */
interface Ended {
  readonly ok: boolean;
  readonly error?: unknown;
}

export interface DrainCounts {
  completed: number;
  failed: number;
}

export interface DrainOptions {
  /** Runs the executor over its input with this signal (aborted only when the drain times out). */
  readonly run: (signal: AbortSignal) => AsyncIterable<Ended>;
  /** True once the input has stopped yielding (STOP): the drain starts then. */
  readonly stopping: () => boolean;
  readonly drainMs: number;
  readonly sampleMs: number;
  readonly sample: (counts: Readonly<DrainCounts>) => void;
}

export interface Drained extends DrainCounts {
  /** Failures by cause (`causeOf`). */
  readonly causes: Record<string, number>;
  /** The drain timed out and the run was aborted. */
  readonly aborted: boolean;
  /** From STOP to the run's end (0 if the run ended before STOP). */
  readonly drainMs: number;
}

export async function drainRun(o: DrainOptions): Promise<Drained> {
  const counts: DrainCounts = { completed: 0, failed: 0 };
  const causes: Record<string, number> = {};
  o.sample(counts);
  const sampler = setInterval(() => o.sample(counts), o.sampleMs);
  const abort = new AbortController();
  let stopAt = 0;
  let drainTimer: NodeJS.Timeout | undefined;
  const watch = setInterval(() => {
    if (o.stopping() && stopAt === 0) {
      stopAt = performance.now();
      drainTimer = setTimeout(() => abort.abort(new Error('drain timed out')), o.drainMs);
    }
  }, 10);
  let aborted = false;
  try {
    for await (const outcome of o.run(abort.signal)) {
      if (outcome.ok) counts.completed += 1;
      else {
        counts.failed += 1;
        const cause = causeOf(outcome.error);
        causes[cause] = (causes[cause] ?? 0) + 1;
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
    aborted = true;
  } finally {
    clearInterval(sampler);
    clearInterval(watch);
    clearTimeout(drainTimer);
  }
  const drainMs = stopAt === 0 ? 0 : performance.now() - stopAt;
  o.sample(counts);
  return { ...counts, causes, aborted, drainMs };
}

/**
 * A `sample` for `drainRun` that appends the service's figures to `series`, timed from now;
 * `outstanding` gives the HTTP requests sent and not yet answered.
 */
export function serviceSampler(
  svc: { stats(): { readonly limit: number; readonly inFlight: number; readonly dropped: number } },
  series: ChildSample[],
  outstanding: () => number,
): DrainOptions['sample'] {
  const t0 = performance.now();
  return ({ completed, failed }) => {
    const s = svc.stats();
    series.push({
      t: Math.round(performance.now() - t0),
      completed,
      failed,
      limit: s.limit,
      inFlight: s.inFlight,
      outstanding: outstanding(),
      dropped: s.dropped,
    });
  };
}

/** "HttpStatusError: GET http://.../work/17 answered HTTP 503" → without the id. */
export function causeOf(error: unknown): string {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | null;
  const text = `${String(e?.name ?? 'Error')}${typeof e?.code === 'string' ? ` ${e.code}` : ''}: ${String(e?.message ?? error)}`;
  return text.replace(/\/work\/\d+/g, '/work/:id').replace(/127\.0\.0\.1:\d+/g, 'host');
}

/** The orchestrator's reading of a child's counts: 'lost' if a pulled task has no outcome; the note says what went wrong. */
export function drainVerdict(
  r: { readonly pulled: number; readonly completed: number; readonly failed: number; readonly aborted: number },
  drainMs: number,
): { status: 'ok' | 'lost'; note?: string } {
  const lost = r.pulled - r.completed - r.failed - r.aborted;
  const notes = [
    ...(lost !== 0 ? [`${lost} task(s) pulled without an outcome`] : []),
    ...(r.aborted > 0 ? [`drain took over ${drainMs} ms: ${r.aborted} aborted`] : []),
  ];
  return { status: lost !== 0 ? 'lost' : 'ok', ...(notes.length ? { note: notes.join('; ') } : {}) };
}
