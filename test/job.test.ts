/**
 * Job definitions and the job session the CLI builds them through: stages as a plain array or a
 * (possibly async) function, `setup` resources handed to `stages` and `close`, `close` called once
 * on every path, and the `--threads`, `--io` and `--timeout` settings applied to what the job built.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { jobSession } from '../src/cli/job/session.js';
import type { BuildSettings } from '../src/cli/job/build.js';
import {
  cpu,
  createExecutor,
  defineJob,
  ErrorCodes,
  importJob,
  io,
  SluiceJobError,
  SluiceOptionError,
  SluiceStateError,
  type CpuStage,
  type IoStage,
  type Stage,
} from '../src/index.js';
import { SluiceConfigError } from '../src/cli/errors.js';

const worker = new URL('./fixtures/double.ts', import.meta.url);
const NO_SETTINGS: BuildSettings = { io: {} };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** A job's close calls, in order, with what each one received. */
function closeLog(): { calls: unknown[]; close: (resources: unknown) => void } {
  const calls: unknown[] = [];
  return { calls, close: (resources) => void calls.push(resources) };
}

describe('defineJob: stages', () => {
  it('accepts a plain array of stages for a job without services, and the executor runs it', async () => {
    const job = defineJob<number, number>({ stages: [io('double', (n: number) => n * 2, { concurrency: 2 })], input: [1, 2, 3] });
    const built = await jobSession(job).build(NO_SETTINGS);
    const executor = createExecutor<number, number>({ stages: built.stages });
    const values: number[] = [];
    for await (const outcome of executor.run([1, 2, 3])) if (outcome.ok) values.push(outcome.value);
    await executor.close();
    expect(values.sort()).toEqual([2, 4, 6]);
  });

  it('copies the array: a later change to it does not reach the job', () => {
    const stages: Stage[] = [io('a', (x: unknown) => x, { concurrency: 1 })];
    const job = defineJob({ stages });
    stages.push(io('b', (x: unknown) => x, { concurrency: 1 }));
    expect(job.stages).toHaveLength(1);
    expect(Object.isFrozen(job.stages)).toBe(true);
  });

  it('refuses an array when the job declares services, naming job.stages', () => {
    const error = thrown(() =>
      defineJob({ services: { docs: { limit: 4 } }, stages: [io('a', (x: unknown) => x, { concurrency: 1 })] }),
    ) as SluiceOptionError;
    expect(error).toBeInstanceOf(SluiceOptionError);
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe('job.stages');
    expect(error.expected).toContain('docs');
  });

  it('refuses an empty array, an element that is not a stage, and a stages value of another type', () => {
    expect(thrown(() => defineJob({ stages: [] }))).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'job.stages' });
    const notStage = thrown(() =>
      defineJob({ stages: [io('a', (x: unknown) => x, { concurrency: 1 }), { name: 'b' } as unknown as Stage] }),
    );
    expect(notStage).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'job.stages[1]', received: { name: 'b' } });
    const other = thrown(() => defineJob({ stages: 'fetch' as unknown as Stage[] }));
    expect(other).toMatchObject({ code: ErrorCodes.INVALID_OPTION, option: 'job.stages', received: 'fetch' });
    expect(thrown(() => defineJob({ stages: [io('a', (x: unknown) => x, { concurrency: 1 })], setup: 1 as never }))).toMatchObject({
      option: 'job.setup',
    });
  });

  it('accepts an async stages function', async () => {
    const job = defineJob({
      services: { docs: { limit: 3 } },
      stages: async ({ services }) => {
        await Promise.resolve();
        return [io('fetch', (x: unknown) => x, { service: services.docs! })];
      },
    });
    const built = await jobSession(job).build(NO_SETTINGS);
    expect(built.stages.map((s) => s.name)).toEqual(['fetch']);
    expect((built.stages[0] as IoStage).service).toBe(built.services.docs);
  });

  it('refuses stages that return (or resolve to) something other than an array, naming job.stages and the value', async () => {
    for (const stages of [() => ({ fetch: 1 }), async () => ({ fetch: 1 }), async () => undefined]) {
      const job = defineJob({ stages: stages as never });
      const error = (await rejection(jobSession(job).build(NO_SETTINGS))) as SluiceOptionError;
      expect(error).toBeInstanceOf(SluiceOptionError);
      expect(error.option).toBe('job.stages');
      expect(error.expected).toContain('an array of stages');
      expect(error.received).toEqual((await stages()) ?? undefined);
    }
  });
});

describe('job setup, resources and close', () => {
  it('runs setup after the services are built and hands what it returns to stages and close', async () => {
    const order: string[] = [];
    const log = closeLog();
    const job = defineJob({
      services: { docs: { limit: 2 } },
      setup: async ({ services }) => {
        order.push(`setup ${services.docs!.limit.current}`);
        return { url: 'http://127.0.0.1:1' };
      },
      stages: ({ services, resources }) => {
        order.push(`stages ${resources.url}`);
        return [io('fetch', (x: unknown) => x, { service: services.docs! })];
      },
      close: (resources) => {
        order.push('close');
        log.close(resources);
      },
    });
    const session = jobSession(job);
    await session.build(NO_SETTINGS);
    await Promise.all([session.close(), session.close()]);
    await session.close();
    expect(order).toEqual(['setup 2', 'stages http://127.0.0.1:1', 'close']);
    expect(log.calls).toEqual([{ url: 'http://127.0.0.1:1' }]);
  });

  it('closes what setup opened when a setting is refused after it (an --io name the job does not declare)', async () => {
    const log = closeLog();
    const job = defineJob({ setup: () => 'server', stages: [io('a', (x: unknown) => x, { concurrency: 1 })], close: log.close });
    const session = jobSession(job);
    const error = (await rejection(
      session.build({ io: { nosuch: 1 } }, { 'io.nosuch': { kind: 'flag', name: '--io' } }),
    )) as SluiceConfigError;
    expect(error).toBeInstanceOf(SluiceConfigError);
    expect(error).toMatchObject({ code: ErrorCodes.CONFIG, key: 'io.nosuch', source: { kind: 'flag', name: '--io' } });
    await session.close();
    expect(log.calls).toEqual(['server']);
  });

  it('closes what setup opened when stages throws, reporting it as a job error with its cause', async () => {
    const log = closeLog();
    const boom = new Error('no such table');
    const job = defineJob({
      setup: () => 'pool',
      stages: async () => {
        throw boom;
      },
      close: log.close,
    });
    const session = jobSession(job, 'reindex.job.ts');
    const error = (await rejection(session.build(NO_SETTINGS))) as SluiceJobError;
    expect(error).toBeInstanceOf(SluiceJobError);
    expect(error.code).toBe(ErrorCodes.JOB_INVALID);
    expect(error.file).toBe('reindex.job.ts');
    expect(error.message).toContain('stages() failed: no such table');
    expect(error.cause).toBe(boom);
    await session.close();
    expect(log.calls).toEqual(['pool']);
  });

  it('still calls close, with undefined, when setup throws', async () => {
    const log = closeLog();
    const job = defineJob({
      setup: async (): Promise<string> => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
      stages: [io('a', (x: unknown) => x, { concurrency: 1 })],
      close: log.close,
    });
    const session = jobSession(job);
    const error = (await rejection(session.build(NO_SETTINGS))) as SluiceJobError;
    expect(error).toMatchObject({ code: ErrorCodes.JOB_INVALID });
    expect(error.message).toContain('setup() failed: connect ECONNREFUSED');
    expect((error.cause as { code?: unknown }).code).toBe('ECONNREFUSED');
    await session.close();
    expect(log.calls).toEqual([undefined]);
  });

  it('calls close with undefined when the session never built, and builds nothing after close', async () => {
    const log = closeLog();
    const job = defineJob({ setup: () => 'never', stages: [io('a', (x: unknown) => x, { concurrency: 1 })], close: log.close });
    const session = jobSession(job);
    await session.close();
    expect(log.calls).toEqual([undefined]);
    const error = await rejection(session.build(NO_SETTINGS));
    expect(error).toBeInstanceOf(SluiceStateError);
    expect(error).toMatchObject({ code: ErrorCodes.CLOSED });
    expect(log.calls).toEqual([undefined]);
  });

  it('waits for a build in progress before it closes, so what setup is opening gets closed', async () => {
    const log = closeLog();
    let open!: (value: string) => void;
    const job = defineJob({
      setup: () => new Promise<string>((resolve) => (open = resolve)),
      stages: [io('a', (x: unknown) => x, { concurrency: 1 })],
      close: log.close,
    });
    const session = jobSession(job);
    const building = session.build(NO_SETTINGS);
    const closing = session.close();
    await Promise.resolve();
    expect(log.calls).toEqual([]);
    open('socket');
    await building;
    await closing;
    expect(log.calls).toEqual(['socket']);
  });

  it('builds once per session', async () => {
    const session = jobSession(defineJob({ stages: [io('a', (x: unknown) => x, { concurrency: 1 })] }));
    await session.build(NO_SETTINGS);
    expect(await rejection(session.build(NO_SETTINGS))).toMatchObject({ code: ErrorCodes.RUN_ACTIVE });
  });

  it('infers the resources type from setup, and keeps jobs without setup compiling', () => {
    const job = defineJob({
      setup: async () => ({ port: 8080 }),
      stages: ({ resources }) => {
        expectTypeOf(resources).toEqualTypeOf<{ port: number }>();
        return [io('a', (x: unknown) => x, { concurrency: 1 })];
      },
      close: (resources) => {
        expectTypeOf(resources).toEqualTypeOf<{ port: number } | undefined>();
      },
    });
    expect(typeof job.setup).toBe('function');
    const explicit = defineJob<number, number, { factor: number }>({
      setup: () => ({ factor: 2 }),
      stages: ({ resources }) => [io('a', (n: number) => n * resources.factor, { concurrency: 1 })],
    });
    expect(typeof explicit.stages).toBe('function');
    const plain = defineJob<number, number>({
      stages: () => [io('a', (n: number) => n, { concurrency: 1 })],
      close: async () => undefined,
    });
    expect(typeof plain.close).toBe('function');
  });
});

describe('settings applied to the job', () => {
  const job = defineJob({
    services: { docs: { limit: 'vegas', initial: 8, max: 64 }, store: { limit: 2, timeoutMs: 500 } },
    stages: ({ services }) => [
      io('fetch', (x: unknown) => x, { service: services.docs! }),
      io('parse', (x: unknown) => x, { concurrency: 2 }),
      io('tag', (x: unknown) => x, { concurrency: 1, timeoutMs: 250 }),
      cpu('index', worker, { threads: 1 }),
      io('put', (x: unknown) => x, { service: services.store! }),
    ],
  });

  it('applies --threads to cpu stages and --io to services and to io stages without one', async () => {
    const built = await jobSession(job).build({ threads: 3, io: { docs: 16, parse: 5 } });
    expect(built.services.docs!.limit.current).toBe(16);
    expect(built.serviceOptions.docs).toEqual({ limit: 16 });
    expect((built.stages[1] as IoStage).concurrency).toBe(5);
    expect((built.stages[2] as IoStage).concurrency).toBe(1);
    expect((built.stages[3] as CpuStage).threads).toBe(3);
    expect(built.declared.map((s) => s.name)).toEqual(['fetch', 'parse', 'tag', 'index', 'put']);
    expect((built.declared[3] as CpuStage).threads).toBe(1);
  });

  it('gives --timeout to every io stage without a service and every service that set no timeout of its own', async () => {
    const built = await jobSession(job).build({ io: {}, timeoutMs: 1500 });
    expect(built.serviceOptions.docs!.timeoutMs).toBe(1500);
    expect(built.serviceOptions.store!.timeoutMs).toBe(500);
    const byName = new Map(built.stages.map((s) => [s.name, s]));
    expect((byName.get('parse') as IoStage).timeoutMs).toBe(1500);
    expect((byName.get('tag') as IoStage).timeoutMs).toBe(250);
    // A stage on a service is timed by the service: it carries no timeout of its own.
    expect((byName.get('fetch') as IoStage).timeoutMs).toBeUndefined();
    expect((byName.get('put') as IoStage).timeoutMs).toBeUndefined();
    // The executor takes what the session built.
    const executor = createExecutor({ stages: built.stages });
    await executor.close();

    const untouched = await jobSession(job).build(NO_SETTINGS);
    expect(untouched.serviceOptions.docs!.timeoutMs).toBeUndefined();
    expect((untouched.stages[1] as IoStage).timeoutMs).toBeUndefined();
  });

  it('refuses an algorithm for an io stage without a service, and a name the job does not declare', async () => {
    const algorithm = (await rejection(jobSession(job).build({ io: { parse: 'vegas' } }))) as SluiceConfigError;
    expect(algorithm).toMatchObject({ code: ErrorCodes.CONFIG, key: 'io.parse', received: 'vegas' });
    const unknown = (await rejection(jobSession(job).build({ io: { nosuch: 2 } }))) as SluiceConfigError;
    expect(unknown).toMatchObject({ code: ErrorCodes.CONFIG, key: 'io.nosuch', received: 'nosuch' });
    expect(unknown.expected).toContain('service docs');
    expect(unknown.expected).toContain('io stage parse');
  });
});

describe('importJob', () => {
  it("loads a CommonJS job that sets exports.default (TypeScript's CommonJS output)", async () => {
    const job = await importJob(fileURLToPath(new URL('./fixtures/jobs/cjs-default.cjs', import.meta.url)));
    expect(job.name).toBe('cjs-default');
  });

  it('says what a CommonJS module exports when it is not a job', async () => {
    const error = (await rejection(
      importJob(fileURLToPath(new URL('./fixtures/jobs/cjs-not-job.cjs', import.meta.url))),
    )) as SluiceJobError;
    expect(error).toBeInstanceOf(SluiceJobError);
    expect(error.code).toBe(ErrorCodes.JOB_INVALID);
    expect(error.message).toContain('module.exports = defineJob');
  });
});
