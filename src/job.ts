/**
 * defineJob: the shape of a job module, the unit the `sluice` CLI runs. A job names its services
 * (as options, so the CLI can override their limits), builds its stages from them, and says where
 * its tasks come from when no input file is given. `defineJob` validates eagerly, so a mistake in
 * a job module is reported when it loads, naming the field.
 */
import { SluiceOptionError } from './errors.js';
import type { ExecutorOptions } from './options.js';
import type { Outcome } from './outcome.js';
import type { ServiceOptions } from './services/options.js';
import type { Service } from './services/service.js';
import type { Stage } from './stages/types.js';

/** What `stages` receives: the job's services, built with any limits the CLI or config set. */
export interface JobContext {
  /** One `Service` per entry of the job's `services`, by the same name. */
  readonly services: Readonly<Record<string, Service>>;
}

/** Tasks of a job when no input file is given. */
export type JobInput<T> = Iterable<T> | AsyncIterable<T> | (() => Iterable<T> | AsyncIterable<T>);

/** The executor options a job may set (the CLI's flags and config win over them). */
export type JobOptions = Pick<ExecutorOptions, 'buffer' | 'outputBuffer' | 'ordered' | 'window'>;

export interface JobDefinition<T = unknown, R = unknown> {
  /** Shown in the summary and the progress log. @default the module's file name */
  readonly name?: string;
  /**
   * The services the job calls, by name: the options of `service(name, options)`. The CLI's
   * `--io NAME=8|adaptive|aimd|vegas|gradient2` replaces a service's `limit`.
   */
  readonly services?: Readonly<Record<string, ServiceOptions>>;
  /**
   * The pipeline, built from the services. The CLI's `--threads N` sets `threads` of every cpu
   * stage, and `--io STAGE=N` the `concurrency` of an io stage that has no service.
   */
  readonly stages: (context: JobContext) => readonly Stage[];
  /** The tasks when the command line gives no `--input` file. */
  readonly input?: JobInput<T>;
  /**
   * Turns one record of an input file (a parsed JSON Lines value, or a CSV row as an object of
   * strings) into a task. Throw to reject the record: it is reported with its line number and the
   * rest of the job runs.
   */
  readonly parse?: (record: unknown, line: number) => T;
  /** Executor options of the job: overridden by config and flags. */
  readonly options?: JobOptions;
  /** Called on the main thread for every outcome, after it is written to the output. */
  readonly onOutcome?: (outcome: Outcome<T, R>) => void | Promise<void>;
  /** Called once after the run, however it ended: release what the job opened (servers, pools, files). */
  readonly close?: () => void | Promise<void>;
}

const kJob = Symbol.for('sluice.job');

/** A validated job definition, as a job module's default export. */
export type Job<T = unknown, R = unknown> = JobDefinition<T, R> & { readonly [kJob]: true };

/**
 * Defines a job: `export default defineJob({ services, stages, input })`. Validates the
 * definition and returns it frozen.
 */
export function defineJob<T = unknown, R = unknown>(definition: JobDefinition<T, R>): Job<T, R> {
  if (definition === null || typeof definition !== 'object') throw new SluiceOptionError('job', 'an object', definition);
  const d = definition as unknown as Record<string, unknown>;
  const known = new Set(['name', 'services', 'stages', 'input', 'parse', 'options', 'onOutcome', 'close']);
  for (const key of Object.keys(d)) {
    if (!known.has(key)) throw new SluiceOptionError(`job.${key}`, `one of ${[...known].join(', ')}`, key);
  }
  if (d.name !== undefined && (typeof d.name !== 'string' || d.name.length === 0)) {
    throw new SluiceOptionError('job.name', 'a non-empty string', d.name);
  }
  if (typeof d.stages !== 'function') {
    throw new SluiceOptionError('job.stages', 'a function (context) => stages', d.stages);
  }
  if (d.services !== undefined) {
    if (!isPlainObject(d.services)) throw new SluiceOptionError('job.services', 'an object of service options by name', d.services);
    for (const [name, options] of Object.entries(d.services)) {
      if (!isPlainObject(options)) throw new SluiceOptionError(`job.services.${name}`, 'an object of service options', options);
    }
  }
  if (d.input !== undefined && !isInput(d.input)) {
    throw new SluiceOptionError('job.input', 'an Iterable, an AsyncIterable, or a function returning one', d.input);
  }
  for (const key of ['parse', 'onOutcome', 'close'] as const) {
    if (d[key] !== undefined && typeof d[key] !== 'function') throw new SluiceOptionError(`job.${key}`, 'a function', d[key]);
  }
  if (d.options !== undefined && !isPlainObject(d.options)) throw new SluiceOptionError('job.options', 'an object', d.options);
  return Object.freeze({ ...definition, [kJob]: true as const });
}

/** Whether `value` came from `defineJob` (of any copy of sluice). */
export function isJob(value: unknown): value is Job {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[kJob] === true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isInput(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<Iterable<unknown> & AsyncIterable<unknown>>;
  return typeof v[Symbol.iterator] === 'function' || typeof v[Symbol.asyncIterator] === 'function';
}
