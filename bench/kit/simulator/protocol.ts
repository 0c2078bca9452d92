/**
 * What the simulator and its clients exchange: the settings (one frozen defaults object, one
 * validator), the stats and series answers, and the child's ready message. The same validator
 * checks the options a server starts with and every `POST /control` patch, so a bad value gets the
 * same message (naming the field, the expected and the received value) in-process, in the child
 * and over HTTP.
 */
import { SimulatorOptionError } from '../errors.js';

/** What the service does now. Everything here can change at run time through `POST /control`. */
export interface SimulatorConfig {
  /** C_s: requests served at once ("workers"). @default 10 */
  readonly capacity: number;
  /** Base service time of one request, in ms. @default 20 */
  readonly latencyMs: number;
  /** Most requests waiting for a worker; past it arrivals are rejected. `null`: unbounded. @default null */
  readonly queueBound: number | null;
  /** Status of a rejection. @default 503 */
  readonly reject: 503 | 429;
  /** `Retry-After` (whole seconds) on a rejection; `null` omits the header. @default 1 */
  readonly retryAfterS: number | null;
  /**
   * Overload penalty: service time is `latencyMs × (1 + overloadPenalty × min(1, max(0, q − C_s) / C_s))`
   * where q is the queue length when the request starts service. 0 turns it off; 0.7 roughly
   * reproduces BASELINES.md: k=50 at 20 ms gets C_s / 34 ms, i.e. 294 req/s against C_s=10 and 88
   * against C_s=3 (measured here, busy machine, with 20 req/s online traffic: 266 and 68). @default 0
   */
  readonly overloadPenalty: number;
  /** Size of each 200 answer's body, in bytes. @default 0 */
  readonly bodyBytes: number;
  /**
   * While true, a request that has finished its service time keeps its worker (the service is
   * stuck: a GC pause, a hung dependency). Setting it false answers them all. Tests use it as a
   * gate, so that counts do not depend on timing. @default false
   */
  readonly hold: boolean;
}

/** A `POST /control` body: any subset of the settings. */
export type ControlPatch = Partial<SimulatorConfig>;

/** Options of a simulator: its initial settings, plus the sampler's period. */
export interface SimulatorOptions extends ControlPatch {
  /** Period of the time series sampler (`GET /series`), in ms; 0 turns it off. @default 100 */
  readonly sampleMs?: number;
  /** Samples kept; the oldest are dropped past it. @default 36000 (an hour at 100 ms) */
  readonly maxSamples?: number;
}

/** `GET /stats`. Counters since start or the last reset; `inFlight`/`queueLength` are now. */
export interface SimulatorStats {
  readonly config: SimulatorConfig;
  /** Answered 200, both routes. */
  readonly served: number;
  /** Rejected by status, both routes. */
  readonly rejected: { readonly '503': number; readonly '429': number };
  readonly rejectedTotal: number;
  /** The `GET /online` share of `served` and `rejectedTotal`. */
  readonly online: { readonly served: number; readonly rejected: number };
  /** Clients that left before their answer. */
  readonly abandoned: number;
  readonly inFlight: number;
  readonly queueLength: number;
  readonly peakInFlight: number;
  readonly peakQueueLength: number;
  /** Time since start or the last reset, in ms. */
  readonly elapsedMs: number;
}

/** One row of `GET /series`, taken every `sampleMs`. */
export interface SeriesSample {
  /** ms since start or the last reset. */
  readonly t: number;
  readonly capacity: number;
  readonly inFlight: number;
  readonly queueLength: number;
  /** Longest queue since the previous sample (a sample alone misses bursts). */
  readonly maxQueueLength: number;
  readonly servedTotal: number;
  readonly rejectedTotal: number;
}

/** The child's first IPC message to its parent. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly url: string;
}

export const SIMULATOR_DEFAULTS: SimulatorConfig & { readonly sampleMs: number; readonly maxSamples: number } = Object.freeze({
  capacity: 10,
  latencyMs: 20,
  queueBound: null,
  reject: 503,
  retryAfterS: 1,
  overloadPenalty: 0,
  bodyBytes: 0,
  hold: false,
  sampleMs: 100,
  maxSamples: 36_000,
});

const MAX_BODY_BYTES = 64 * 1024 * 1024;

type Check = (value: unknown) => string | undefined;

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isNum = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isFinite(v) && v >= min;

/** For each field: undefined when valid, else what was expected. */
const CHECKS: Readonly<Record<keyof SimulatorConfig, Check>> = {
  capacity: (v) => (isInt(v, 1) ? undefined : 'an integer >= 1'),
  latencyMs: (v) => (isNum(v, 0) ? undefined : 'a finite number >= 0'),
  queueBound: (v) => (v === null || isInt(v, 0) ? undefined : 'an integer >= 0, or null for unbounded'),
  reject: (v) => (v === 503 || v === 429 ? undefined : '503 or 429'),
  retryAfterS: (v) => (v === null || isInt(v, 0) ? undefined : 'an integer >= 0, or null to omit the header'),
  overloadPenalty: (v) => (isNum(v, 0) ? undefined : 'a finite number >= 0'),
  bodyBytes: (v) => (isInt(v, 0, MAX_BODY_BYTES) ? undefined : `an integer from 0 to ${MAX_BODY_BYTES}`),
  hold: (v) => (typeof v === 'boolean' ? undefined : 'a boolean'),
};

const FIELDS = Object.keys(CHECKS) as (keyof SimulatorConfig)[];

/**
 * Check a control patch (parsed JSON or an options object). Throws a `SimulatorOptionError` naming
 * the first bad or unknown field. `extra` lists further keys the caller accepts (e.g. `sampleMs`).
 */
export function parseControlPatch(input: unknown, extra: readonly string[] = []): ControlPatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SimulatorOptionError('control', 'a JSON object', input);
  }
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || extra.includes(key)) continue;
    const check = CHECKS[key as keyof SimulatorConfig] as Check | undefined;
    if (!check) throw new SimulatorOptionError(key, `absent (known fields: ${FIELDS.join(', ')})`, value);
    const expected = check(value);
    if (expected !== undefined) throw new SimulatorOptionError(key, expected, value);
    patch[key] = value;
  }
  return patch as ControlPatch;
}

/** Resolve a simulator's options against the defaults; throws `SimulatorOptionError` on bad input. */
export function resolveSimulatorOptions(options: SimulatorOptions = {}): { config: SimulatorConfig; sampleMs: number; maxSamples: number } {
  const patch = parseControlPatch(options, ['sampleMs', 'maxSamples']);
  const sampleMs = options.sampleMs ?? SIMULATOR_DEFAULTS.sampleMs;
  if (!isNum(sampleMs, 0)) throw new SimulatorOptionError('sampleMs', 'a finite number >= 0', sampleMs);
  const maxSamples = options.maxSamples ?? SIMULATOR_DEFAULTS.maxSamples;
  if (!isInt(maxSamples, 1)) throw new SimulatorOptionError('maxSamples', 'an integer >= 1', maxSamples);
  const { sampleMs: _s, maxSamples: _m, ...defaults } = SIMULATOR_DEFAULTS;
  return { config: { ...defaults, ...patch }, sampleMs, maxSamples };
}
