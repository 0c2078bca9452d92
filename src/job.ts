/**
 * defineJob: the shape of a job module, the unit the `sluice` CLI runs. A job names its services
 * (as options, so the CLI can override their limits), may open resources in `setup` before the
 * run, builds its stages (a plain array, or a function of the services and resources), says where
 * its tasks come from when no input file is given, and releases what it opened in `close`.
 * `defineJob` validates eagerly, so a mistake in a job module is reported when it loads, naming
 * the field.
 */
import { SluiceOptionError } from './errors.js';
import type { ExecutorOptions } from './options.js';
import type { Outcome } from './outcome.js';
import type { ServiceOptions } from './services/options.js';
import type { Service } from './services/service.js';
import type { Stage } from './stages/types.js';

/** What `setup` receives: the job's services, built with any limits the CLI or config set. */
export interface JobSetupContext {
  /** One `Service` per entry of the job's `services`, by the same name. */
  readonly services: Readonly<Record<string, Service>>;
}

/** What a `stages` function receives: the services, and what `setup` opened. */
export interface JobContext<Resources = unknown> extends JobSetupContext {
  /** What `setup` returned (resolved); undefined when the job has no `setup`. */
  readonly resources: Resources;
}

/**
 * The pipeline of a job: an array of stages, or a function that builds them (synchronously or
 * as a Promise) from the services and resources. A job that declares services needs the function.
 */
export type JobStages<Resources = unknown> =
  | readonly Stage[]
  | ((context: JobContext<Resources>) => readonly Stage[] | PromiseLike<readonly Stage[]>);

/** Tasks of a job when no input file is given. */
export type JobInput<T> = Iterable<T> | AsyncIterable<T> | (() => Iterable<T> | AsyncIterable<T>);

/** The executor options a job may set (the CLI's flags and config win over them). */
export type JobOptions = Pick<ExecutorOptions, 'buffer' | 'outputBuffer' | 'ordered' | 'window'>;

/**
 * A job: `T` is a task, `R` what the last stage returns, `Resources` what `setup` opens and hands
 * to `stages` and `close` (inferred from `setup` when no type arguments are given).
 */
export interface JobDefinition<T = unknown, R = unknown, Resources = unknown> {
  /** Shown in the summary and the progress log. @default the module's file name */
  readonly name?: string;
  /**
   * The services the job calls, by name: the options of `service(name, options)`. The CLI's
   * `--io NAME=8|adaptive|aimd|vegas|gradient2[:PARAM=VALUE...]` replaces a service's `limit`, and `--timeout MS`
   * sets the `timeoutMs` of a service whose options set none.
   */
  readonly services?: Readonly<Record<string, ServiceOptions>>;
  /**
   * Opens what the stages need (a server, a connection pool, a client) once, before the run and
   * after the services are built; what it returns (or resolves to) is `context.resources` in
   * `stages` and the argument of `close`. Open resources here rather than when the module loads:
   * `sluice config` and a run refused for a bad setting then open nothing they must close.
   * @example setup: async () => ({ db: await connect(url) })
   */
  readonly setup?: (context: JobSetupContext) => Resources | PromiseLike<Resources>;
  /**
   * The pipeline: an array of stages (a job without services), or a function of
   * `{ services, resources }` returning the stages or a Promise of them. The CLI's `--threads N`
   * sets `threads` of every cpu stage, `--io STAGE=N` the `concurrency` of an io stage that has
   * no service, and `--timeout MS` the `timeoutMs` of an io stage without a service that sets none.
   */
  readonly stages: JobStages<Resources>;
  /** The tasks when the command line gives no `--input` file. */
  readonly input?: JobInput<T>;
  /**
   * Turns one record of an input file (a parsed JSON Lines value, or a CSV row as an object of
   * strings) into a task. Throw to reject the record: it is reported with its line number and the
   * rest of the job runs.
   */
  readonly parse?: (record: unknown, line: number) => T;
  /**
   * The key of a task: a non-empty string that names it for as long as the job exists (an id in
   * the task, say), passed to the run as its `key` option. Stages see it as `ctx.key`, and work is
   * at least once, so make their side effects idempotent on it. A key that is not a non-empty
   * string (or a throw) fails that task alone.
   * @default the task's position in its input (`String(index)`)
   */
  readonly key?: (task: T) => string;
  /** Executor options of the job: overridden by config and flags. */
  readonly options?: JobOptions;
  /** Called on the main thread for every outcome, after it is written to the output. */
  readonly onOutcome?: (outcome: Outcome<T, R>) => void | Promise<void>;
  /**
   * Called once when the command ends, however it ended (a finished or failed run, a setting
   * refused after the job loaded, a signal): release what the job opened. It gets what `setup`
   * returned, or undefined when `setup` did not run, threw, or the job has none; so a `setup` that
   * fails halfway must release what it had opened before it throws.
   */
  readonly close?: (resources: Resources | undefined) => void | PromiseLike<void>;
}

const kJob = Symbol.for('sluice.job');

/** A validated job definition, as a job module's default export. */
export type Job<T = unknown, R = unknown, Resources = unknown> = JobDefinition<T, R, Resources> & { readonly [kJob]: true };

const KEYS = Object.freeze(['name', 'services', 'setup', 'stages', 'input', 'parse', 'key', 'options', 'onOutcome', 'close']);

/**
 * Defines a job: `export default defineJob({ stages: [io(...), cpu(...)], input })`, or with
 * services, `defineJob({ services, setup, stages: ({ services, resources }) => [...], close })`.
 * Validates the definition and returns it frozen.
 */
export function defineJob<T = unknown, R = unknown, Resources = unknown>(definition: JobDefinition<T, R, Resources>): Job<T, R, Resources> {
  if (definition === null || typeof definition !== 'object') throw new SluiceOptionError('job', 'an object', definition);
  const d = definition as unknown as Record<string, unknown>;
  for (const key of Object.keys(d)) {
    if (!KEYS.includes(key)) throw new SluiceOptionError(`job.${key}`, `one of ${KEYS.join(', ')}`, key);
  }
  if (d.name !== undefined && (typeof d.name !== 'string' || d.name.length === 0)) {
    throw new SluiceOptionError('job.name', 'a non-empty string', d.name);
  }
  if (d.services !== undefined) {
    if (!isPlainObject(d.services)) throw new SluiceOptionError('job.services', 'an object of service options by name', d.services);
    for (const [name, options] of Object.entries(d.services)) {
      if (!isPlainObject(options)) throw new SluiceOptionError(`job.services.${name}`, 'an object of service options', options);
    }
  }
  const stages = checkStages(d.stages, Object.keys(d.services ?? {}));
  if (d.input !== undefined && !isInput(d.input)) {
    throw new SluiceOptionError('job.input', 'an Iterable, an AsyncIterable, or a function returning one', d.input);
  }
  for (const key of ['setup', 'parse', 'key', 'onOutcome', 'close'] as const) {
    if (d[key] !== undefined && typeof d[key] !== 'function') throw new SluiceOptionError(`job.${key}`, 'a function', d[key]);
  }
  if (d.options !== undefined && !isPlainObject(d.options)) throw new SluiceOptionError('job.options', 'an object', d.options);
  return Object.freeze({ ...definition, stages, [kJob]: true as const }) as Job<T, R, Resources>;
}

/** Whether `value` came from `defineJob` (of any copy of sluice). */
export function isJob(value: unknown): value is Job {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[kJob] === true;
}

/** A function as it is; an array checked and copied (frozen), so later changes to it do not leak in. */
function checkStages(stages: unknown, services: readonly string[]): unknown {
  if (typeof stages === 'function') return stages;
  if (!Array.isArray(stages)) {
    throw new SluiceOptionError('job.stages', 'an array of stages, or a function ({ services, resources }) => stages', stages);
  }
  if (services.length > 0) {
    throw new SluiceOptionError(
      'job.stages',
      `a function ({ services }) => stages: the job declares services (${services.join(', ')}), which only a stages function receives`,
      stages,
    );
  }
  if (stages.length === 0) throw new SluiceOptionError('job.stages', 'a non-empty array of stages (io(...) or cpu(...))', stages);
  stages.forEach((stage: unknown, i) => {
    const kind = (stage as { kind?: unknown } | null)?.kind;
    if (kind !== 'io' && kind !== 'cpu') throw new SluiceOptionError(`job.stages[${i}]`, 'a stage made by io(...) or cpu(...)', stage);
  });
  return Object.freeze([...(stages as readonly Stage[])]);
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
