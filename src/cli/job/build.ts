/**
 * The CLI's settings applied to a job, in two steps around the job's `setup` (see session.ts):
 * - `buildServices`: one service per declared service, `io` replacing a named service's limit and
 *   `timeoutMs` giving a timeout to a service whose options set none;
 * - `applySettings`: the stages the job built, with `threads` on every cpu stage, `io` on the
 *   concurrency of a named io stage without a service, and `timeoutMs` on every io stage without a
 *   service that sets none.
 * A setting that names nothing in the job is an error naming the key and its source.
 */
import { service, SluiceOptionError, type Job, type Service, type ServiceOptions, type Stage } from '../../index.js';
import { SluiceConfigError, type ConfigSource } from '../errors.js';
import { withIoSetting } from '../config/io-setting.js';
import type { SluiceConfig } from '../config/schema.js';

/** The part of the config that shapes the pipeline. */
export type BuildSettings = Pick<SluiceConfig, 'threads' | 'io' | 'timeoutMs'>;

export interface BuiltServices {
  readonly services: Readonly<Record<string, Service>>;
  /** The options each service was built with: the job's, with the settings applied. */
  readonly serviceOptions: Readonly<Record<string, ServiceOptions>>;
}

export interface BuiltJob extends BuiltServices {
  /** The stages with the settings applied, for the executor. */
  readonly stages: readonly Stage[];
  /** The stages as the job gave them, before the settings (to say where each value came from). */
  readonly declared: readonly Stage[];
}

const DEFAULT_SOURCE: ConfigSource = { kind: 'default' };

/** Builds one service (`service`, or a lane's copy sharing its limits across lanes). */
export type MakeService = (name: string, options: ServiceOptions) => Service;

export function buildServices<T, R, Resources>(
  job: Job<T, R, Resources>,
  settings: BuildSettings,
  make: MakeService = service,
): BuiltServices {
  const services: Record<string, Service> = {};
  const serviceOptions: Record<string, ServiceOptions> = {};
  for (const [name, declared] of Object.entries(job.services ?? {})) {
    const setting = settings.io[name];
    let options = setting === undefined ? declared : withLimit(declared, setting);
    if (options.timeoutMs === undefined && settings.timeoutMs !== undefined) options = { ...options, timeoutMs: settings.timeoutMs };
    serviceOptions[name] = Object.freeze(options);
    services[name] = make(name, options);
  }
  return { services: Object.freeze(services), serviceOptions: Object.freeze(serviceOptions) };
}

/**
 * Checks what the job's `stages` gave (an array of stages) and applies the settings to it.
 * Throws `SluiceOptionError` (option `job.stages`) for anything but an array, and
 * `SluiceConfigError` for an `io` key that names neither a service nor an io stage without one.
 */
export function applySettings<T, R, Resources>(
  job: Job<T, R, Resources>,
  stages: unknown,
  settings: BuildSettings,
  sources: Readonly<Record<string, ConfigSource>> = {},
): readonly Stage[] {
  if (!Array.isArray(stages)) {
    throw new SluiceOptionError('job.stages', 'an array of stages (or a function returning one, or a Promise of one)', stages);
  }
  const list = stages as readonly Stage[];
  const declared = job.services ?? {};
  const ioStages = new Set(list.filter((s) => s?.kind === 'io' && s.service === undefined).map((s) => s.name));
  for (const [key, setting] of Object.entries(settings.io)) {
    if (key in declared) continue;
    const source = sources[`io.${key}`] ?? DEFAULT_SOURCE;
    if (!ioStages.has(key)) {
      const known = [...Object.keys(declared).map((n) => `service ${n}`), ...[...ioStages].map((n) => `io stage ${n}`)];
      throw new SluiceConfigError(
        `io.${key}`,
        source,
        known.length > 0 ? `a name the job declares (${known.join(', ')})` : 'a service the job declares (it declares none)',
        key,
      );
    }
    if (typeof setting !== 'number') {
      throw new SluiceConfigError(`io.${key}`, source, `a positive integer (io stage ${key} has no service to adapt to)`, setting);
    }
  }
  return list.map((stage): Stage => {
    if (stage?.kind === 'cpu' && settings.threads !== undefined) return { ...stage, threads: settings.threads };
    if (stage?.kind === 'io' && stage.service === undefined) {
      const setting = settings.io[stage.name];
      const timeoutMs = stage.timeoutMs === undefined ? settings.timeoutMs : undefined;
      if (typeof setting !== 'number' && timeoutMs === undefined) return stage;
      return {
        ...stage,
        ...(typeof setting === 'number' ? { concurrency: setting } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      };
    }
    return stage;
  });
}

/** The setting replaces the service's limit (see `withIoSetting`). */
const withLimit = withIoSetting;
