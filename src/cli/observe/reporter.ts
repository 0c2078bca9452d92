/**
 * Picks the progress reporter of `sluice run --log <mode>`: a live bar, JSON lines, or nothing.
 * Every mode watches the main thread's ceiling on each tick (`--log none` ticks for that alone) and
 * writes its one warning: a note in the bar and `none` modes, a `"type":"warning"` line with JSON.
 * A run in lanes is also watched for every lane saturated: one warning of that kind too.
 */
import { SluiceOptionError } from '../../index.js';
import {
  type CeilingOptions,
  ceilingJsonLine,
  ceilingLine,
  createCeilingWatch,
  createLanesWatch,
  lanesJsonLine,
  lanesLine,
} from './ceiling-warning.js';
import { OBSERVE_DEFAULTS } from './defaults.js';
import { createFigureTracker } from './figures.js';
import { createJsonLog } from './json-log.js';
import { createProgressBar, type TerminalStream } from './progress-bar.js';
import type { RunSnapshot } from './snapshot.js';
import { createTicker, type Reporter } from './ticker.js';

export type { Reporter } from './ticker.js';
export type { TerminalStream } from './progress-bar.js';

/** `bar`: a live display on a terminal; `json`: one JSON line per tick; `none`: no progress. Each writes notes. */
export type LogMode = 'bar' | 'json' | 'none';

export const LOG_MODES: readonly LogMode[] = Object.freeze(['bar', 'json', 'none']);

export interface ReporterOptions {
  /** The state of the run now; called once per tick. */
  readonly snapshot: () => RunSnapshot;
  /** Between ticks once started, in ms. @default OBSERVE_DEFAULTS.intervalMs (1000) */
  readonly intervalMs?: number;
  /** Where the bar is drawn, and JSON lines written when `write` is not given. @default process.stderr */
  readonly stream?: TerminalStream;
  /** Receives each JSON line and each note (without a newline). @default writes the line and a newline to `stream` */
  readonly write?: (line: string) => void;
  /** The clock of the rate window (ms). @default performance.now */
  readonly now?: () => number;
  /**
   * When the main thread counts as saturated for the ceiling warning (internal: the tests shorten
   * it; no flag sets it), or `false` for no warning. @default OBSERVE_DEFAULTS' ceiling figures
   */
  readonly ceiling?: CeilingOptions | false;
}

/** Rejects a bad mode or option with SluiceOptionError (async: the bar loads its renderer first). */
export async function createReporter(mode: LogMode, options: ReporterOptions): Promise<Reporter> {
  if (!LOG_MODES.includes(mode)) throw new SluiceOptionError('log mode', `one of ${LOG_MODES.join(', ')}`, mode);
  if (options === null || typeof options !== 'object') throw new SluiceOptionError('reporter options', 'an object', options);
  if (typeof options.snapshot !== 'function') throw new SluiceOptionError('snapshot', 'a function', options.snapshot);
  const intervalMs = options.intervalMs ?? OBSERVE_DEFAULTS.intervalMs;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new SluiceOptionError('intervalMs', 'a finite number > 0', intervalMs);
  }
  if (options.write !== undefined && typeof options.write !== 'function') throw new SluiceOptionError('write', 'a function', options.write);
  const stream = options.stream ?? process.stderr;
  const write = options.write ?? ((line: string) => void stream.write(`${line}\n`));
  const watch = options.ceiling === false ? undefined : createCeilingWatch(options.ceiling);
  const lanesWatch = options.ceiling === false ? undefined : createLanesWatch(options.ceiling);
  // The snapshot each render took, for the watch that runs after it.
  let last: RunSnapshot | undefined;
  const snapshot = (): RunSnapshot => {
    last = options.snapshot();
    return last;
  };
  let reporter: Reporter | undefined;
  const after = (): void => {
    if (last === undefined) return;
    const { lanes, mainThread } = last.stats;
    const sample = { elapsedMs: last.elapsedMs, mainThread, ...(lanes !== undefined ? { lanes } : {}) };
    const alarm = watch?.(sample);
    if (alarm !== undefined) {
      if (mode === 'json') write(ceilingJsonLine(alarm));
      else reporter?.note(ceilingLine(alarm));
    }
    const lanesAlarm = lanes !== undefined ? lanesWatch?.(sample) : undefined;
    if (lanesAlarm !== undefined) {
      if (mode === 'json') write(lanesJsonLine(lanesAlarm));
      else reporter?.note(lanesLine(lanesAlarm));
    }
  };
  if (mode === 'none') {
    if (watch === undefined) return { start() {}, tick() {}, stop() {}, note: write };
    reporter = createTicker(
      () => void snapshot(),
      intervalMs,
      (line) => write(line),
      after,
    );
    return reporter;
  }
  const figures = createFigureTracker(options.now !== undefined ? { now: options.now } : {});
  reporter =
    mode === 'bar'
      ? await createProgressBar({ snapshot, figures, intervalMs, stream, after })
      : createJsonLog({ snapshot, figures, intervalMs, write, after });
  return reporter;
}

/** `--log auto` made concrete: the bar on a terminal, JSON lines anywhere else (CI, log files). */
export function resolveLogMode(mode: LogMode | 'auto', stream: { readonly isTTY?: boolean } | undefined): LogMode {
  if (mode !== 'auto') return mode;
  return stream?.isTTY === true ? 'bar' : 'json';
}
