/**
 * Windowing, after Netflix concurrency-limits' WindowedLimit: a decorator that gathers samples into
 * windows on the samples' own clock and feeds the inner limit one aggregate per window, so a
 * per-sample algorithm sees a steadier signal.
 *
 *   a window opens at the end (startMs + rttMs) of its first sample and lasts windowMs;
 *   a sample is added to it, then the window closes if that sample ends after it (end > open +
 *   windowMs) or it holds maxSamples samples. On closing, if it holds >= minSamples samples or any
 *   drop, the inner limit gets one sample:
 *     startMs  = the first sample's startMs
 *     rttMs    = the minimum rtt, or the nearest-rank `percentile` (sorted[ceil(p × n) − 1])
 *     inflight = the maximum inflight
 *     dropped  = whether any sample was dropped
 *
 * Netflix drops a window with too few samples even if it saw a drop; a batch client sending little
 * traffic must still hear a 429, so a drop always gets through. No timers: a window closes only
 * when a later sample shows that its time has passed.
 */
import type { Limit, Sample } from './limit.js';
import { isCount, optionalNumber, optionsObject } from './options.js';

export interface WindowOptions {
  /** Length of a window in ms of the samples' clock. @default 1000 */
  readonly windowMs?: number;
  /** Fewest samples a window needs to count (unless one was dropped). @default 10 */
  readonly minSamples?: number;
  /** A window closes early once it holds this many samples. @default 1000 */
  readonly maxSamples?: number;
  /** Forward this percentile of the window's rtts, in (0, 1], instead of the minimum. @default undefined (the minimum) */
  readonly percentile?: number;
}

export interface ResolvedWindowOptions {
  readonly windowMs: number;
  readonly minSamples: number;
  readonly maxSamples: number;
  readonly percentile: number | undefined;
}

export const WINDOW_DEFAULTS: ResolvedWindowOptions = Object.freeze({
  windowMs: 1000,
  minSamples: 10,
  maxSamples: 1000,
  percentile: undefined,
});

/** Validates window options; `prefix` (e.g. "windowed.") is put before the option names in errors. */
export function resolveWindowOptions(raw: unknown, prefix = ''): ResolvedWindowOptions {
  const given = optionsObject(raw, prefix === '' ? 'options' : prefix.slice(0, -1));
  const name = (option: string): string => prefix + option;
  const windowMs =
    optionalNumber(given.windowMs, name('windowMs'), 'a finite number > 0', (n) => Number.isFinite(n) && n > 0) ?? WINDOW_DEFAULTS.windowMs;
  const minSamples = optionalNumber(given.minSamples, name('minSamples'), 'an integer >= 1', isCount) ?? WINDOW_DEFAULTS.minSamples;
  const atLeastMin = (n: number): boolean => isCount(n) && n >= minSamples;
  const maxSamples =
    optionalNumber(given.maxSamples, name('maxSamples'), `an integer >= minSamples (${minSamples})`, atLeastMin) ??
    Math.max(WINDOW_DEFAULTS.maxSamples, minSamples);
  const inUnit = (n: number): boolean => n > 0 && n <= 1;
  const percentile = optionalNumber(given.percentile, name('percentile'), 'a number in (0, 1]', inUnit);
  return Object.freeze({ windowMs, minSamples, maxSamples, percentile });
}

/** Wraps `inner` so it sees one aggregated sample per window; `current` and `subscribe` are its. */
export function windowedLimit(inner: Limit, options?: WindowOptions): Limit {
  return new WindowedLimit(inner, resolveWindowOptions(options));
}

interface OpenWindow {
  readonly closesAt: number;
  readonly startMs: number;
  readonly rtts: number[];
  inflight: number;
  dropped: boolean;
}

class WindowedLimit implements Limit {
  readonly #inner: Limit;
  readonly #options: ResolvedWindowOptions;
  #window: OpenWindow | undefined;

  constructor(inner: Limit, options: ResolvedWindowOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  get current(): number {
    return this.#inner.current;
  }

  subscribe(listener: (limit: number) => void): () => void {
    return this.#inner.subscribe(listener);
  }

  sample(sample: Sample): void {
    const end = sample.startMs + sample.rttMs;
    if (!Number.isFinite(end) || !(sample.rttMs >= 0) || !Number.isFinite(sample.inflight)) return;
    this.#window ??= {
      closesAt: end + this.#options.windowMs,
      startMs: sample.startMs,
      rtts: [],
      inflight: 0,
      dropped: false,
    };
    const window = this.#window;
    window.rtts.push(sample.rttMs);
    window.inflight = Math.max(window.inflight, sample.inflight);
    window.dropped ||= sample.dropped;
    if (end <= window.closesAt && window.rtts.length < this.#options.maxSamples) return;
    this.#window = undefined;
    if (window.rtts.length < this.#options.minSamples && !window.dropped) return;
    const { startMs, inflight, dropped } = window;
    this.#inner.sample({ startMs, rttMs: this.#aggregate(window.rtts), inflight, dropped });
  }

  #aggregate(rtts: number[]): number {
    const p = this.#options.percentile;
    const sorted = rtts.toSorted((a, b) => a - b);
    // 1e-9: 0.28 × 25 is 7.000000000000001 in floating point, whose ceiling would skip a rank.
    const rank = p === undefined ? 1 : Math.max(1, Math.ceil(p * sorted.length - 1e-9));
    return sorted[rank - 1] ?? Number.NaN;
  }
}
