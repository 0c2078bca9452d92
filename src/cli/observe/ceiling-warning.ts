/**
 * The one warning about the main thread's ceiling. Every io stage, HTTP parsing and payload
 * handling run on the main thread, so a job keeps at most about C / m threads busy (C: cpu time
 * per task, m: main-thread time per task). When the main thread stays saturated, adding threads is
 * in vain: the warning says so once per run, instead of letting the user find out by trial.
 *
 * Pure: the reporter feeds it the snapshot of each tick. It fires when `recentUtilization` stays
 * at or above the threshold on enough consecutive checks spanning enough run time; one check below
 * starts the count again, so a brief spike never warns; after it fired it stays quiet.
 */
import { type MainThreadStats, SluiceOptionError } from '../../index.js';
import { OBSERVE_DEFAULTS } from './defaults.js';

export interface CeilingOptions {
  /** `recentUtilization` at or above this counts as saturated. @default OBSERVE_DEFAULTS.ceilingUtilization (0.9) */
  readonly utilization?: number;
  /** Run time from the first saturated check to the last, at least. @default OBSERVE_DEFAULTS.ceilingForMs (15 s) */
  readonly forMs?: number;
  /** Consecutive saturated checks, at least. @default OBSERVE_DEFAULTS.ceilingChecks (3) */
  readonly checks?: number;
}

/** What one check looks at: the run's age and its main thread's load. */
export interface CeilingSample {
  readonly elapsedMs: number;
  readonly mainThread: MainThreadStats;
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
}

/** Returns the alarm on the check that crosses the line, undefined on every other one. */
export type CeilingWatch = (sample: CeilingSample) => CeilingAlarm | undefined;

export function createCeilingWatch(options: CeilingOptions = {}): CeilingWatch {
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
  return ({ elapsedMs, mainThread }) => {
    if (fired) return undefined;
    if (!(mainThread.recentUtilization >= threshold)) {
      since = undefined;
      streak = 0;
      return undefined;
    }
    since ??= elapsedMs;
    streak += 1;
    if (streak < checks || elapsedMs - since < forMs) return undefined;
    fired = true;
    return {
      elapsedMs,
      forMs: elapsedMs - since,
      threshold,
      utilization: mainThread.utilization,
      recentUtilization: mainThread.recentUtilization,
    };
  };
}

/** What the warning says, without the `sluice: warning: ` of the human line. */
export function ceilingMessage(a: CeilingAlarm): string {
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
    message: ceilingMessage(a),
  });
}

/** `93%`: a utilisation as a whole percent. */
export function percent(utilization: number): string {
  return `${Math.round(utilization * 100)}%`;
}

/** A utilisation with three decimals, for JSON. */
export function ratio(utilization: number): number {
  return Math.round(utilization * 1000) / 1000;
}
