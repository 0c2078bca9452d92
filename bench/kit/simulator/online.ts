/**
 * "Online traffic": the service's other users, whose experience a batch job must not ruin. It sends
 * light, steady traffic to the simulator's `GET /online` and records what each request felt.
 *
 * - Open loop: request i is sent at start + i/rate whether or not earlier ones have answered (a
 *   user does not wait for another user). If this process stalls, the overdue requests go out
 *   together when it wakes, so a stall is not hidden by sending less (coordinated omission).
 * - Latency is measured from sending to the end of the answer, so it includes this process's own
 *   event-loop delay: run it in a process whose main thread is not busy.
 * - Percentiles are over answered (2xx) requests and timeouts (counted at the time waited before
 *   giving up: that is what the user felt). Rejections (503/429) and other failures are fast and
 *   would flatter the percentiles, so they are counted as errors instead.
 * - `snapshot()` / `reset()` give per-phase figures: a request sent before a reset is not counted
 *   after it.
 */
import { Agent, get } from 'node:http';
import { SimulatorOptionError } from '../errors.js';

export interface OnlineTrafficOptions {
  /** The simulator's base URL, e.g. `http://127.0.0.1:43210`. */
  readonly url: string;
  /** Requests per second, open loop. @default 20 */
  readonly ratePerSecond?: number;
  /** A request not answered within this is abandoned and counted as a timeout. @default 2000 */
  readonly timeoutMs?: number;
  /** Path requested. @default '/online' */
  readonly path?: string;
}

/** What the online users felt since start or the last reset. Latencies in ms; null when none. */
export interface LatencySummary {
  /** Requests finished (any outcome). */
  readonly count: number;
  /** Answered 2xx. */
  readonly ok: number;
  /** Everything else: rejections, other statuses, connection errors, timeouts. */
  readonly errors: number;
  /** Of `errors`: answered 503 or 429. */
  readonly rejected: number;
  /** Of `errors`: gave up after `timeoutMs`. */
  readonly timeouts: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface OnlineTraffic {
  snapshot(): LatencySummary;
  /** Forget everything recorded so far (start a new phase). */
  reset(): void;
  /** Stop sending, wait for the requests in flight (at most `timeoutMs`), return the summary. */
  stop(): Promise<LatencySummary>;
}

/**
 * Nearest-rank percentile of ascending `sorted` values: the smallest value with at least p % of
 * the values ≤ it (`sorted[ceil(p/100 · n) − 1]`; p = 0 gives the minimum). null when empty.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 100)) throw new SimulatorOptionError('p', 'a number from 0 to 100', p);
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

interface Tally {
  latencies: number[];
  ok: number;
  errors: number;
  rejected: number;
  timeouts: number;
}

const emptyTally = (): Tally => ({ latencies: [], ok: 0, errors: 0, rejected: 0, timeouts: 0 });

function summarize(tally: Tally): LatencySummary {
  const sorted = [...tally.latencies].sort((a, b) => a - b);
  const { ok, errors, rejected, timeouts } = tally;
  return {
    count: ok + errors,
    ok,
    errors,
    rejected,
    timeouts,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : null,
  };
}

export function startOnlineTraffic(options: OnlineTrafficOptions): OnlineTraffic {
  const { url, ratePerSecond = 20, timeoutMs = 2000, path = '/online' } = options;
  if (typeof url !== 'string' || !/^http:\/\//.test(url)) throw new SimulatorOptionError('url', 'an http:// URL', url);
  if (!(typeof ratePerSecond === 'number' && ratePerSecond > 0 && Number.isFinite(ratePerSecond))) {
    throw new SimulatorOptionError('ratePerSecond', 'a finite number > 0', ratePerSecond);
  }
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs))) {
    throw new SimulatorOptionError('timeoutMs', 'a finite number > 0', timeoutMs);
  }
  const target = url.replace(/\/$/, '') + path;
  const agent = new Agent({ keepAlive: true });
  const inFlight = new Set<Promise<void>>();
  let tally = emptyTally();
  let stopped = false;
  let sent = 0;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;

  function send(): void {
    const mine = tally;
    const begin = performance.now();
    const done = new Promise<void>((resolve) => {
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const settle = (outcome: 'ok' | 'rejected' | 'error' | 'timeout'): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        const elapsed = performance.now() - begin;
        if (outcome === 'ok') mine.ok += 1;
        else mine.errors += 1;
        if (outcome === 'ok' || outcome === 'timeout') mine.latencies.push(elapsed);
        if (outcome === 'rejected') mine.rejected += 1;
        if (outcome === 'timeout') mine.timeouts += 1;
        resolve();
      };
      const req = get(target, { agent }, (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => settle(status >= 200 && status < 300 ? 'ok' : status === 503 || status === 429 ? 'rejected' : 'error'));
        res.on('error', () => settle('error'));
      });
      req.on('error', () => settle('error'));
      deadline = setTimeout(() => {
        settle('timeout');
        req.destroy();
      }, timeoutMs);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  }

  function tick(): void {
    if (stopped) return;
    const due = Math.floor(((performance.now() - started) * ratePerSecond) / 1000) + 1;
    while (sent < due) {
      sent += 1;
      send();
    }
    const next = started + (sent * 1000) / ratePerSecond;
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  }
  tick();

  return {
    snapshot: () => summarize(tally),
    reset: () => {
      tally = emptyTally();
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(inFlight);
      agent.destroy();
      return summarize(tally);
    },
  };
}
