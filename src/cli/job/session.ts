/**
 * A loaded job for the length of one command: builds its pipeline with the command's settings
 * (services, then the job's `setup`, then its `stages`, then the settings' checks) and closes it
 * exactly once, on every exit path, however the command ended (bad settings found after the job
 * loaded, a failed run, a signal). A job may have opened servers or pools when its module loaded,
 * so `close()` is owed from the moment the module is imported, whether or not `build` ran.
 *
 * `close()` calls the job's `close(resources)` with what `setup` returned, also when `stages` or a
 * settings check failed after `setup` succeeded; with `undefined` when `setup` threw (a `setup`
 * that fails halfway releases what it opened itself), never ran, or the job has none.
 */
import { ErrorCodes, SluiceError, SluiceJobError, SluiceStateError, type Job, type Stage } from '../../index.js';
import type { ConfigSource } from '../errors.js';
import { applySettings, buildServices, type BuildSettings, type BuiltJob, type MakeService } from './build.js';
import { messageOf } from '../message.js';

export interface JobSession<T = unknown, R = unknown, Resources = unknown> {
  readonly job: Job<T, R, Resources>;
  /**
   * The job's services and stages with the command's settings applied; runs the job's `setup`
   * and `stages`. Once per session. Rejects with `SluiceConfigError` for a setting that names
   * nothing in the job, `SluiceOptionError` for stages that are not an array of stages, and
   * `SluiceJobError` when `setup` or `stages` throws something that is not a `SluiceError`.
   */
  build(settings: BuildSettings, sources?: Readonly<Record<string, ConfigSource>>, make?: MakeService): Promise<BuiltJob>;
  /** Calls the job's `close(resources)` once, after a `build` in progress settles; later calls return the same promise. */
  close(): Promise<void>;
}

/** `shownAs` names the job in errors (its file, as the command line gave it). @default the job's name, else `job` */
export function jobSession<T, R, Resources>(job: Job<T, R, Resources>, shownAs: string = job.name ?? 'job'): JobSession<T, R, Resources> {
  let building: Promise<BuiltJob> | undefined;
  let closing: Promise<void> | undefined;
  let resources: Resources | undefined;

  async function build(settings: BuildSettings, sources?: Readonly<Record<string, ConfigSource>>, make?: MakeService): Promise<BuiltJob> {
    const { services, serviceOptions } = buildServices(job, settings, make);
    if (job.setup !== undefined) resources = await step('setup()', () => job.setup!({ services }));
    const stages = job.stages;
    const declared =
      typeof stages === 'function' ? await step('stages()', () => stages({ services, resources: resources as Resources })) : stages;
    const applied = applySettings(job, declared, settings, sources);
    return { services, serviceOptions, stages: applied, declared: declared as readonly Stage[] };
  }

  /** Runs a hook of the job; what it throws that is not a SluiceError becomes a SluiceJobError naming the hook. */
  async function step<V>(hook: string, fn: () => V | PromiseLike<V>): Promise<V> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      const message = messageOf(error);
      throw new SluiceJobError(shownAs, `${hook} failed: ${message}`, { cause: error });
    }
  }

  return {
    job,
    build(settings, sources, make) {
      if (closing !== undefined) return Promise.reject(new SluiceStateError(ErrorCodes.CLOSED, 'The job session is closed'));
      if (building !== undefined) {
        return Promise.reject(
          new SluiceStateError(ErrorCodes.RUN_ACTIVE, 'The job session has built its job already; a session builds once'),
        );
      }
      building = build(settings, sources, make);
      return building;
    },
    close() {
      closing ??= (building ?? Promise.resolve())
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => job.close?.(resources));
      return closing;
    },
  };
}
