/**
 * The one warning about the main thread's ceiling. Every io stage, HTTP parsing and payload
 * handling run on the main thread, so a job keeps at most about C / m threads busy (C: cpu time
 * per task, m: main-thread time per task). When the main thread stays saturated, adding threads is
 * in vain: the warning says so once per run, instead of letting the user find out by trial.
 *
 * In lanes (`--lanes`) the main thread only dispatches, so its warning gives other advice; a second
 * watch fires once when every lane's thread stays saturated: more lanes (not more threads) help then.
 *
 * Pure: the reporter feeds it the snapshot of each tick. It fires when `recentUtilization` stays
 * at or above the threshold on enough consecutive checks spanning enough run time; one check below
 * starts the count again, so a brief spike never warns; after it fired it stays quiet.
 */
import { type LanesStats, type MainThreadStats, SluiceOptionError } from '../../index.js';
import { OBSERVE_DEFAULTS } from './defaults.js';

export interface CeilingOptions {
  /** `recentUtilization` at or above this counts as saturated. @default OBSERVE_DEFAULTS.ceilingUtilization (0.9) */
  readonly utilization?: number;
  /** Run time from the first saturated check to the last, at least. @default OBSERVE_DEFAULTS.ceilingForMs (15 s) */
  readonly forMs?: number;
  /** Consecutive saturated checks, at least. @default OBSERVE_DEFAULTS.ceilingChecks (3) */
  readonly checks?: number;
}

/** What one check looks at: the run's age, its main thread's load, and its lanes' when it runs in lanes. */
export interface CeilingSample {
  readonly elapsedMs: number;
  readonly mainThread: MainThreadStats;
  readonly lanes?: LanesStats;
}

/** Why the watch fired. */
export interface CeilingAlarm {
  readonly elapsedMs: number;
  /** Run time from the first saturated check of the streak to this one. */
  readonly forMs: number;
  /** The utilisation that counts as saturated. */
  readonly threshold: number;
  readonly utilization: number;
  readonly recentUtilization: number;
  /** The run's lanes, when it runs in lanes: the main thread is then only their dispatcher. */
  readonly lanes?: number;
}

/** Returns the alarm on the check that crosses the line, undefined on every other one. */
export type CeilingWatch = (sample: CeilingSample) => CeilingAlarm | undefined;

export function createCeilingWatch(options: CeilingOptions = {}): CeilingWatch {
  const streak = createStreak(options);
  return (sample) => {
    const { elapsedMs, mainThread, lanes } = sample;
    const forMs = streak(elapsedMs, mainThread.recentUtilization);
    if (forMs === undefined) return undefined;
    return {
      elapsedMs,
      forMs,
      threshold: streak.threshold,
      utilization: mainThread.utilization,
      recentUtilization: mainThread.recentUtilization,
      ...(lanes !== undefined ? { lanes: lanes.lanes.length } : {}),
    };
  };
}

/** Why the lanes watch fired: every lane's thread stayed saturated. */
export interface LanesAlarm {
  readonly elapsedMs: number;
  /** Run time from the first check of the streak on which every lane was saturated to this one. */
  readonly forMs: number;
  readonly threshold: number;
  /** Each lane's `recentUtilization`, in lane order. */
  readonly busy: readonly number[];
}

export type LanesWatch = (sample: CeilingSample) => LanesAlarm | undefined;

/**
 * Fires once when every lane's `recentUtilization` stays at or above the threshold (the least busy
 * lane's, that is) on the checks and span of `CeilingOptions`; never for a run without lanes.
 */
export function createLanesWatch(options: CeilingOptions = {}): LanesWatch {
  const streak = createStreak(options);
  return ({ elapsedMs, lanes }) => {
    const busy = (lanes?.lanes ?? []).map((l) => l.recentUtilization);
    const forMs = streak(elapsedMs, busy.length > 0 ? Math.min(...busy) : 0);
    return forMs === undefined ? undefined : { elapsedMs, forMs, threshold: streak.threshold, busy };
  };
}

/** `check(elapsedMs, utilization)`: the streak's span once (and only the first time) it crosses the line. */
type Streak = ((elapsedMs: number, utilization: number) => number | undefined) & { readonly threshold: number };

function createStreak(options: CeilingOptions): Streak {
  const threshold = options.utilization ?? OBSERVE_DEFAULTS.ceilingUtilization;
  const forMs = options.forMs ?? OBSERVE_DEFAULTS.ceilingForMs;
  const checks = options.checks ?? OBSERVE_DEFAULTS.ceilingChecks;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) {
    throw new SluiceOptionError('ceiling utilization', 'a number > 0 and <= 1', threshold);
  }
  if (typeof forMs !== 'number' || !Number.isFinite(forMs) || forMs < 0)
    throw new SluiceOptionError('ceiling forMs', 'a finite number >= 0', forMs);
  if (!Number.isInteger(checks) || checks < 1) throw new SluiceOptionError('ceiling checks', 'an integer >= 1', checks);
  let since: number | undefined;
  let streak = 0;
  let fired = false;
  const check = (elapsedMs: number, utilization: number): number | undefined => {
    if (fired) return undefined;
    if (!(utilization >= threshold)) {
      since = undefined;
      streak = 0;
      return undefined;
    }
    since ??= elapsedMs;
    streak += 1;
    if (streak < checks || elapsedMs - since < forMs) return undefined;
    fired = true;
    return elapsedMs - since;
  };
  return Object.assign(check, { threshold });
}

/** What the warning says, without the `sluice: warning: ` of the human line. */
export function ceilingMessage(a: CeilingAlarm): string {
  if (a.lanes !== undefined) {
    return (
      `the main thread, which only dispatches to the ${a.lanes} lanes, has been at least ${percent(a.threshold)} busy ` +
      `for ${Math.round(a.forMs / 1000)} s (${percent(a.recentUtilization)} over the last few seconds): ` +
      'the dispatcher (reading the input, handing tasks out, taking outcomes back) is the bottleneck, ' +
      'so more --lanes or --threads will not help; make the tasks fewer and larger, or run more processes'
    );
  }
  return (
    `the main thread has been at least ${percent(a.threshold)} busy for ${Math.round(a.forMs / 1000)} s ` +
    `(${percent(a.recentUtilization)} over the last few seconds): ` +
    'it runs every io stage and the payload handling, and it is the bottleneck, so more --threads will not help; ' +
    'move parsing and payload handling into a cpu stage, or run more processes (sluice worker)'
  );
}

/** The human line (the bar and `--log none`). */
export function ceilingLine(a: CeilingAlarm): string {
  return `sluice: warning: ${ceilingMessage(a)}`;
}

/** The `--log json` event: `{"type":"warning","warning":"main-thread-ceiling",...,"message":"..."}`. */
export function ceilingJsonLine(a: CeilingAlarm): string {
  return JSON.stringify({
    type: 'warning',
    warning: 'main-thread-ceiling',
    elapsedMs: Math.round(a.elapsedMs),
    forMs: Math.round(a.forMs),
    mainThread: { utilization: ratio(a.utilization), recentUtilization: ratio(a.recentUtilization) },
    ...(a.lanes !== undefined ? { lanes: a.lanes } : {}),
    message: ceilingMessage(a),
  });
}

/** What the lanes warning says, without the `sluice: warning: `. */
export function lanesMessage(a: LanesAlarm): string {
  return (
    `every lane has been at least ${percent(a.threshold)} busy for ${Math.round(a.forMs / 1000)} s ` +
    `(lanes ${a.busy.length}, busy ${busyList(a.busy)} over the last few seconds): ` +
    "each lane's thread runs its io stages and payload handling, and they are the bottleneck, so more --threads " +
    'will not help; if cores are free, run more --lanes'
  );
}

export function lanesLine(a: LanesAlarm): string {
  return `sluice: warning: ${lanesMessage(a)}`;
}

/** The `--log json` event: `{"type":"warning","warning":"lanes-saturated",...,"message":"..."}`. */
export function lanesJsonLine(a: LanesAlarm): string {
  return JSON.stringify({
    type: 'warning',
    warning: 'lanes-saturated',
    elapsedMs: Math.round(a.elapsedMs),
    forMs: Math.round(a.forMs),
    lanes: { count: a.busy.length, busy: a.busy.map(ratio) },
    message: lanesMessage(a),
  });
}

/** Lanes shown one by one up to this many; more as the range, least to most busy. */
export const LANES_LISTED = 8;

/** `45% 51%` (each lane, in order), or `12%-97%` for more than `LANES_LISTED` lanes. */
export function busyList(utilizations: readonly number[]): string {
  if (utilizations.length <= LANES_LISTED) return utilizations.map(percent).join(' ');
  return `${percent(Math.min(...utilizations))}-${percent(Math.max(...utilizations))}`;
}

/** `93%`: a utilisation as a whole percent. */
export function percent(utilization: number): string {
  return `${Math.round(utilization * 100)}%`;
}

/** A utilisation with three decimals, for JSON. */
export function ratio(utilization: number): number {
  return Math.round(utilization * 1000) / 1000;
}
