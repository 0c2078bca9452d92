/**
 * The demo job: fetch N documents from the embedded document service (io), synthesize each on a
 * worker thread (cpu), and append one JSON line per result to a file (io). `runDemo` runs it
 * in-process and returns counters; `main.ts` is the command-line face of it.
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { cpu, createExecutor, io, SluiceOptionError, type ExecutorStats, type TaskContext } from '../index.js';
import type { Synthesis, SynthesisInput } from '../../workers/synthesize.js';
import { startDocServer } from './doc-server.js';
import { createAgent, fetchBuffer } from './fetch-doc.js';
import { messageOf } from '../errors.js';

export interface DemoOptions {
  /** Documents to fetch and synthesize. @default 1000 */
  readonly tasks?: number;
  /** The document service's delay per request, in ms. @default 20 */
  readonly latencyMs?: number;
  /** Size of each document in bytes (at most 16 MiB). @default 262144 */
  readonly sizeBytes?: number;
  /** Worker threads of the synthesize stage. @default os.availableParallelism() */
  readonly threads?: number;
  /** Fetches in flight at most. @default 16 */
  readonly concurrency?: number;
  /** The JSON Lines output file (truncated first). @default `<os.tmpdir()>/sluice-demo-output.jsonl` */
  readonly out?: string;
}

export type ResolvedDemoOptions = Required<DemoOptions>;

export const DEMO_DEFAULTS = Object.freeze({
  tasks: 1000,
  latencyMs: 20,
  sizeBytes: 262144,
  concurrency: 16,
  threads: (): number => availableParallelism(),
  out: (): string => join(tmpdir(), 'sluice-demo-output.jsonl'),
});

type NumericOption = 'tasks' | 'latencyMs' | 'sizeBytes' | 'threads' | 'concurrency';

/** The accepted range of each numeric option (integers). */
export const DEMO_RANGES: Readonly<Record<NumericOption, { readonly min: number; readonly max: number }>> = Object.freeze({
  tasks: { min: 1, max: Number.MAX_SAFE_INTEGER },
  latencyMs: { min: 0, max: 60_000 },
  sizeBytes: { min: 1, max: 16 * 1024 * 1024 },
  threads: { min: 1, max: 256 },
  concurrency: { min: 1, max: 1024 },
});

export interface DemoFailure {
  readonly index: number;
  readonly stage: string;
  readonly message: string;
}

export interface DemoSummary {
  readonly options: ResolvedDemoOptions;
  readonly tasks: number;
  readonly completed: number;
  readonly failed: number;
  /** The first few failures (at most 5). */
  readonly failures: readonly DemoFailure[];
  /** From the first pull to the output file closed. */
  readonly wallMs: number;
  readonly tasksPerSecond: number;
  readonly peakOpen: number;
  readonly peakBuffered: number;
  /** What `peakBuffered` can never exceed: the non-last stages' capacities plus the buffer bounds. */
  readonly bufferedBound: number;
  /** Peak resident set size of this process, in MiB. */
  readonly peakRssMiB: number;
  readonly service: { readonly requests: number; readonly peakInFlight: number };
  readonly output: string;
  readonly stats: ExecutorStats;
}

export function resolveDemoOptions(options: DemoOptions = {}): ResolvedDemoOptions {
  if (options === null || typeof options !== 'object') throw new SluiceOptionError('options', 'an object', options);
  const out = options.out ?? DEMO_DEFAULTS.out();
  if (typeof out !== 'string' || out.length === 0) throw new SluiceOptionError('out', 'a non-empty file path', out);
  return {
    tasks: checkInt(options.tasks ?? DEMO_DEFAULTS.tasks, 'tasks'),
    latencyMs: checkInt(options.latencyMs ?? DEMO_DEFAULTS.latencyMs, 'latencyMs'),
    sizeBytes: checkInt(options.sizeBytes ?? DEMO_DEFAULTS.sizeBytes, 'sizeBytes'),
    threads: checkInt(options.threads ?? DEMO_DEFAULTS.threads(), 'threads'),
    concurrency: checkInt(options.concurrency ?? DEMO_DEFAULTS.concurrency, 'concurrency'),
    out,
  };
}

function checkInt(value: unknown, name: NumericOption): number {
  const { min, max } = DEMO_RANGES[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new SluiceOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** The worker beside the compiled module (dist/src/demo → dist/workers), else the source file. */
export function synthesizeWorker(): URL {
  const compiled = new URL('../../workers/synthesize.js', import.meta.url);
  return existsSync(compiled) ? compiled : new URL('../../workers/synthesize.ts', import.meta.url);
}

function* ids(n: number): Generator<number> {
  for (let id = 0; id < n; id++) yield id;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const o = resolveDemoOptions(options);
  const out = createWriteStream(o.out);
  let writeError: unknown;
  out.on('error', (error) => {
    writeError ??= error;
  });
  await once(out, 'open'); // a bad path fails here, before any work starts
  const server = await startDocServer({ latencyMs: o.latencyMs, sizeBytes: o.sizeBytes });
  const agent = createAgent(o.concurrency);
  const executor = createExecutor<number, number>({
    stages: [
      io(
        'fetch',
        async (id: number, ctx: TaskContext): Promise<SynthesisInput> => ({
          id,
          body: await fetchBuffer(`${server.url}/docs/${id}`, agent, ctx.signal),
        }),
        { concurrency: o.concurrency },
      ),
      cpu('synthesize', synthesizeWorker(), { threads: o.threads }),
      io('store', (result: Synthesis, ctx: TaskContext) => store(out, result, ctx, () => writeError), { concurrency: 1 }),
    ],
  });
  let completed = 0;
  let failed = 0;
  const failures: DemoFailure[] = [];
  const started = performance.now();
  try {
    for await (const outcome of executor.run(ids(o.tasks))) {
      if (outcome.ok) {
        completed += 1;
        continue;
      }
      failed += 1;
      if (failures.length < 5) failures.push({ index: outcome.index, stage: outcome.stage, message: messageOf(outcome.error) });
    }
    out.end();
    await finished(out);
  } finally {
    await executor.close();
    agent.destroy();
    await server.close();
    if (!out.closed) out.destroy();
  }
  const wallMs = performance.now() - started;
  const stats = executor.stats();
  const stages = stats.stages.slice(0, -1);
  const buffers = stats.buffers.slice(0, -1); // the last one is the output buffer
  return {
    options: o,
    tasks: o.tasks,
    completed,
    failed,
    failures,
    wallMs,
    tasksPerSecond: (completed + failed) / (wallMs / 1000),
    peakOpen: stats.tasks.peakOpen,
    peakBuffered: stats.buffered.peak,
    bufferedBound: stages.reduce((n, s) => n + s.capacity, 0) + buffers.reduce((n, b) => n + b.bound, 0),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    service: { requests: server.counters().requests, peakInFlight: server.counters().peakInFlight },
    output: o.out,
    stats,
  };
}

/** Appends one JSON line; waits for 'drain' when the stream's buffer is full (back pressure). */
async function store(out: WriteStream, result: Synthesis, ctx: TaskContext, error: () => unknown): Promise<number> {
  const failure = error();
  if (failure !== undefined) throw failure;
  if (!out.write(`${JSON.stringify(result)}\n`)) await once(out, 'drain', { signal: ctx.signal });
  return result.id;
}
