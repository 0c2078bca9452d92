/**
 * The strategies of the adaptive bench, by name. Every batch strategy is the same sluice job (one
 * io stage calling the simulator through one `service()`, same agent, same retry policy and
 * Retry-After handling); only the service's limit differs:
 *
 * - `none`: no batch at all (the online users' baseline).
 * - `fixed-k`: a fixed concurrency k.
 * - `throttle`: a fixed request rate (token bucket, one token per attempt, retries included) in
 *   front of an effectively unlimited concurrency (256): what a req/s setting gives.
 * - adaptive: a named algorithm with its defaults (`limit: 'aimd'`, ...), as a user gets it, or a
 *   variant built from sluice's limit algorithms with the options named.
 */
import { createLimit, vegasLimit, windowedLimit, type Limit, type ServiceOptions } from 'sluice';

export const FIXED_KS = [2, 5, 10, 20, 50] as const;
export const ADAPTIVE = ['aimd', 'vegas', 'gradient2', 'gradient2-windowed', 'vegas-netflix'] as const;

/** Every strategy, the no-batch baseline first, fixed ones before the throttle (it is tuned on them). */
export const ALL_STRATEGIES: readonly string[] = ['none', ...FIXED_KS.map((k) => `fixed-${k}`), 'throttle', ...ADAPTIVE];

/**
 * What the suite's scenario runs: the baseline, the fixed k that were best in the low- and the
 * high-capacity phases of the full bench (bench/results/adaptive.md, 8 s phases: k=5 at C_s=3,
 * k=20 at C_s=10), the throttle tuned on them, and the adaptive default. The others (aimd, k=2,
 * 10, 50, gradient2 and variants) run with `bench/adaptive/dev.ts --only`.
 */
export const SCENARIO_STRATEGIES: readonly string[] = ['none', 'fixed-5', 'fixed-20', 'throttle', 'vegas'];

/** Concurrency the throttle may use: far above what any rate here needs. */
const THROTTLE_CONCURRENCY = 256;

export type Kind = 'none' | 'fixed' | 'throttle' | 'adaptive';

export function kindOf(name: string): Kind {
  if (name === 'none') return 'none';
  if (name.startsWith('fixed-')) return 'fixed';
  if (name === 'throttle') return 'throttle';
  return 'adaptive';
}

/** Adaptive variants: a factory of their Limit. Named algorithms go through `limit: name`. */
const VARIANTS: Readonly<Record<string, () => Limit>> = {
  'gradient2-windowed': () => createLimit('gradient2', { windowed: { windowMs: 100, minSamples: 5, percentile: 0.5 } }),
  'vegas-netflix': () => vegasLimit({ alpha: 3, beta: 6, smoothing: 1, probeMultiplier: 30 }),
};

/** What each strategy is, for the report. */
export function describe(name: string): string {
  const kind = kindOf(name);
  if (kind === 'none') return 'no batch: the online users alone (the baseline of the p99 target)';
  if (kind === 'fixed') return `a fixed limit of ${name.slice('fixed-'.length)} calls`;
  if (kind === 'throttle') return `a fixed rate (token bucket per attempt) over up to ${THROTTLE_CONCURRENCY} calls`;
  const known: Record<string, string> = {
    aimd: "`limit: 'aimd'` with its defaults (+1 per success, × 0.9 per drop; no latency signal)",
    vegas: "`limit: 'vegas'` with its defaults (VEGAS_DEFAULTS)",
    gradient2: "`limit: 'gradient2'` with its defaults",
    'gradient2-windowed': "`createLimit('gradient2', { windowed: { windowMs: 100, minSamples: 5, percentile: 0.5 } })`",
    'vegas-netflix': "vegasLimit with Netflix's parameters: alpha 3, beta 6, smoothing 1, probeMultiplier 30",
  };
  return known[name] ?? `experimental variant (bench/adaptive/strategies.ts)`;
}

/**
 * Candidates under study, by name: `vegas[-a{alpha}b{beta}][-s{smoothing}][-p{probeMultiplier}][-w{windowMs}[p{percentile}]]`
 * (windowed: the window's minimum rtt, or its percentile, e.g. `-w100p50`).
 */
function experiment(name: string): Limit | undefined {
  const m = /^vegas(?:-a([\d.]+)b([\d.]+))?(?:-s([\d.]+))?(?:-p(\d+))?(?:-w(\d+)(?:p(\d+))?)?$/.exec(name);
  if (!m || name === 'vegas') return undefined;
  const [, a, b, sm, probe, w, pct] = m;
  const inner = vegasLimit({
    ...(a !== undefined ? { alpha: Number(a), beta: Number(b) } : {}),
    ...(sm !== undefined ? { smoothing: Number(sm) } : {}),
    ...(probe !== undefined ? { probeMultiplier: Number(probe) } : {}),
  });
  if (w === undefined) return inner;
  return windowedLimit(inner, { windowMs: Number(w), minSamples: 3, ...(pct !== undefined ? { percentile: Number(pct) / 100 } : {}) });
}

/** The `limit` option of the service for a batch strategy. */
export function limitOf(name: string): ServiceOptions['limit'] {
  const kind = kindOf(name);
  if (kind === 'fixed') {
    const k = Number(name.slice('fixed-'.length));
    if (!Number.isSafeInteger(k) || k < 1) throw new Error(`bad fixed strategy "${name}"`);
    return k;
  }
  if (kind === 'throttle') return THROTTLE_CONCURRENCY;
  if (kind === 'none') throw new Error('the no-batch strategy has no service');
  const variant = VARIANTS[name]?.() ?? experiment(name);
  if (variant) return variant;
  if (name === 'aimd' || name === 'vegas' || name === 'gradient2' || name === 'fixed') return name;
  throw new Error(
    `unknown strategy "${name}": expected none, fixed-K, throttle, aimd, vegas, gradient2 or one of ${Object.keys(VARIANTS).join(', ')}`,
  );
}

/**
 * A token bucket without burst: the i-th token is handed out at start + i/rate (or at once if the
 * bucket has been idle). `take` resolves when the caller's token is due.
 */
export function tokenBucket(ratePerSecond: number): { take(signal?: AbortSignal): Promise<void> } {
  const interval = 1000 / ratePerSecond;
  let next = 0;
  return {
    take(signal) {
      const now = performance.now();
      const at = Math.max(now, next);
      next = at + interval;
      const wait = at - now;
      if (wait < 0.5) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, wait);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    },
  };
}
