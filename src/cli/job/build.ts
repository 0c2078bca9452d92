/**
 * Builds a job's pipeline with the CLI's settings applied: `io` replaces the limit of a named
 * service (or the concurrency of a named io stage without one), `threads` the threads of every
 * cpu stage. A setting that names nothing in the job is an error naming the key and its source.
 */
import {
  ADAPTIVE_DEFAULT,
  service,
  SluiceConfigError,
  type ConfigSource,
  type Job,
  type Service,
  type ServiceOptions,
  type Stage,
} from '../../index.js';
import type { IoSetting, SluiceConfig } from '../config/schema.js';

/** The part of the config that shapes the pipeline. */
export type BuildSettings = Pick<SluiceConfig, 'threads' | 'io'>;

export interface BuiltJob {
  readonly services: Readonly<Record<string, Service>>;
  readonly stages: readonly Stage[];
}

const DEFAULT_SOURCE: ConfigSource = { kind: 'default' };

export function buildJob(job: Job, settings: BuildSettings, sources: Readonly<Record<string, ConfigSource>> = {}): BuiltJob {
  const declared = job.services ?? {};
  const services: Record<string, Service> = {};
  for (const [name, options] of Object.entries(declared)) {
    const setting = settings.io[name];
    services[name] = service(name, setting === undefined ? options : withLimit(options, setting));
  }
  const stages = job.stages({ services: Object.freeze(services) });
  if (!Array.isArray(stages)) {
    throw new SluiceConfigError('job.stages', { kind: 'default' }, 'a function returning an array of stages', stages);
  }
  const ioStages = new Set(stages.filter((s) => s?.kind === 'io' && s.service === undefined).map((s) => s.name));
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
  const built = stages.map((stage): Stage => {
    if (stage?.kind === 'cpu' && settings.threads !== undefined) return { ...stage, threads: settings.threads };
    if (stage?.kind === 'io' && stage.service === undefined) {
      const setting = settings.io[stage.name];
      if (typeof setting === 'number') return { ...stage, concurrency: setting };
    }
    return stage;
  });
  return { services, stages: built };
}

function withLimit(options: ServiceOptions, setting: IoSetting): ServiceOptions {
  if (typeof setting === 'number') {
    // A fixed limit: the adaptive bounds no longer apply.
    const { initial: _i, min: _min, max: _max, ...rest } = options;
    return { ...rest, limit: setting };
  }
  return { ...options, limit: setting === 'adaptive' ? ADAPTIVE_DEFAULT : setting };
}
