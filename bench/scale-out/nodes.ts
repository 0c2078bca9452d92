/**
 * Starting the scale-out bench's nodes, each a fresh process through the bench's child harness:
 *
 * - `cli`: the built CLI, `sluice worker JOB --queue Q --redis URL --exit-when-drained --io
 *   sim=adaptive|20 --log json` (its path from sluice's package.json, as a user runs it). The job
 *   reports its outcomes on stdout (outcome-log.mjs: `FIRST`, `OUTCOMES`), the worker its summary
 *   as the last JSON line on stderr; SIGTERM drains it (a second SIGTERM aborts).
 * - `library`: worker-child.ts (compiled to plain ESM once per scenario by the bench's build, or its
 *   source under tsx) calling `runWorker`; it prints `FIRST` and `RESULT`, and reads `DRAIN` /
 *   `ABORT` on stdin. With `direct` it runs the job without a queue (the overhead baseline).
 *
 * Either way the scenario gets a `Node`: when its first outcome came, and a `NodeReport` at its end.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, type Build } from '../harness/build.js';
import { lastError, startChild, type Child, type ChildExit } from '../harness/child.js';
import { type NodeReport, workerCounters } from './types.js';

export const SIM_JOB = fileURLToPath(new URL('./sim-job.mjs', import.meta.url));
export const NOOP_JOB = fileURLToPath(new URL('./noop-job.mjs', import.meta.url));
const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

/** The child entry, compiled (or its source under tsx when esbuild is not there). */
export function buildNodes(log: (line: string) => void): Promise<Build> {
  return compile({ 'worker-child': CHILD }, 'scale-out', log);
}

/** What `sluice enqueue` and `sluice worker` compare: the SHA-256 of the job module's file. */
export function fingerprint(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The CLI entry of the installed package: its package.json's `bin.sluice`. */
function cliPath(): string {
  const manifest = createRequire(import.meta.url).resolve('sluice/package.json');
  const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { sluice: string } }).bin.sluice;
  return join(dirname(manifest), bin);
}

export const CLI = cliPath();

/** How the queue nodes run: the CLI's `sluice worker`, or the library's `runWorker` in a child of the bench's. */
export type Via = 'cli' | 'library';

/** Whether the built CLI has `sluice worker` (it answers `worker --help` with exit 0). */
export async function cliHasWorker(): Promise<boolean> {
  const e = await startChild({ args: [CLI, 'worker', '--help'], timeoutMs: 30_000 }).exited;
  return e.code === 0;
}

export interface NodeOptions {
  readonly job: string;
  /** `cli` or `library` (a `direct` run is always the library child). @default 'library' */
  readonly via?: Via;
  /** The service's limit on this node (`--io sim=...`; the library child gets it by $SLUICE_BENCH_LIMIT). */
  readonly limit?: string;
  /** The job's environment (SLUICE_BENCH_*). */
  readonly env: Readonly<Record<string, string>>;
  readonly redis?: string;
  readonly queue?: string;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  /** Run the job without a queue (createExecutor over its own input). */
  readonly direct?: boolean;
  readonly timeoutMs: number;
}

export interface Node {
  readonly child: Child;
  readonly pid: number | undefined;
  /** Epoch ms of its first outcome; rejects if it exits before one. */
  readonly first: Promise<number>;
  /** Its report and exit; `report` is undefined when it died without one (a kill). */
  readonly ended: Promise<{ readonly report?: NodeReport; readonly exit: ChildExit; readonly note?: string }>;
  /** DRAIN: stop claiming, finish what is held; ABORT: hand it back. Not sent once the node is closing (it has ended its work). */
  send(command: 'DRAIN' | 'ABORT'): void;
}

/** The environment of a child: this process's, without SLUICE_ settings, plus `extra`. */
function envWith(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  return Object.assign(env, extra);
}

export function startNode(build: Build, o: NodeOptions): Node {
  return o.via === 'cli' && o.direct !== true ? startCliNode(o) : startChildNode(build, o);
}

function startChildNode(build: Build, o: NodeOptions): Node {
  const args = [...build.nodeArgs('worker-child'), '--job', o.job];
  if (o.direct === true) args.push('--direct');
  else args.push('--redis', o.redis ?? '', '--queue', o.queue ?? '', '--module', fingerprint(o.job));
  if (o.lockDurationMs !== undefined) args.push('--lock-duration', String(o.lockDurationMs));
  if (o.stalledIntervalMs !== undefined) args.push('--stalled-interval', String(o.stalledIntervalMs));
  const env = envWith({ ...o.env, ...(o.limit !== undefined ? { SLUICE_BENCH_LIMIT: o.limit } : {}) });
  const child = startChild({ args, env, timeoutMs: o.timeoutMs });
  const first = child.next('FIRST').then(Number);
  first.catch(() => undefined);
  let closing = false;
  child.on('RESULT', () => (closing = true));
  const result = child.next('RESULT').then(
    (line) => JSON.parse(line) as NodeReport,
    () => undefined,
  );
  const ended = (async () => {
    const exit = await child.exited;
    const report = await result;
    const note =
      exit.killed !== undefined
        ? `killed (${exit.killed})`
        : report === undefined
          ? lastError(exit.stderr, `exit ${exit.code ?? exit.signal} without a result`)
          : report.error;
    return { ...(report !== undefined ? { report } : {}), exit, ...(note !== undefined ? { note } : {}) };
  })();
  return { child, pid: child.pid, first, ended, send: (command) => !closing && child.send(command) };
}

/** The last line of `stderr` that starts with `prefix`, parsed. */
function lastJson<T>(stderr: string, prefix: string): T | undefined {
  const line = stderr.split('\n').findLast((l) => l.startsWith(prefix));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}

/** The parts of `sluice worker --log json`'s summary the bench reads. */
interface WorkerSummary {
  readonly reason: string;
  readonly claimed: number;
  readonly completed: number;
  readonly failed: number;
  readonly stalledFailed: number;
  readonly handedBack: number;
  readonly dropped: number;
  readonly peakHeld: number;
  readonly error?: string;
}

interface OutcomeLog {
  readonly firstAt?: number;
  readonly lastAt?: number;
  readonly buckets: readonly (readonly [number, number, number])[];
}

function startCliNode(o: NodeOptions): Node {
  const args = [CLI, 'worker', o.job, '--queue', o.queue ?? '', '--redis', o.redis ?? '', '--exit-when-drained', '--log', 'json'];
  args.push('--log-interval', '600000');
  if (o.limit !== undefined) args.push('--io', `sim=${o.limit}`);
  if (o.lockDurationMs !== undefined) args.push('--lock-duration', String(o.lockDurationMs));
  if (o.stalledIntervalMs !== undefined) args.push('--stalled-interval', String(o.stalledIntervalMs));
  const child = startChild({ args, env: envWith({ ...o.env, SLUICE_BENCH_REPORT: '1' }), timeoutMs: o.timeoutMs });
  const first = child.next('FIRST').then(Number);
  first.catch(() => undefined);
  // The job's close prints OUTCOMES: the worker has ended its work and the process is winding down.
  let closing = false;
  child.on('OUTCOMES', () => (closing = true));
  const outcomes = child.next('OUTCOMES').then(
    (line) => JSON.parse(line) as OutcomeLog,
    () => undefined,
  );
  const ended = (async () => {
    const exit = await child.exited;
    const log = await outcomes;
    const s = lastJson<WorkerSummary>(exit.stderr, '{"type":"summary"');
    const report: NodeReport | undefined =
      s === undefined
        ? undefined
        : {
            mode: 'queue',
            reason: s.reason,
            ...(s.error !== undefined ? { error: s.error } : {}),
            outcomes: s.completed + s.failed,
            failed: s.failed,
            ...(log?.firstAt !== undefined ? { firstAt: log.firstAt } : {}),
            ...(log?.lastAt !== undefined ? { lastAt: log.lastAt } : {}),
            buckets: log?.buckets ?? [],
            stats: workerCounters(s),
            events: {},
            causes: {},
          };
    const note =
      exit.killed !== undefined
        ? `killed (${exit.killed})`
        : report === undefined
          ? lastError(exit.stderr, `exit ${exit.code ?? exit.signal} without a summary`)
          : report.error;
    return { ...(report !== undefined ? { report } : {}), exit, ...(note !== undefined ? { note } : {}) };
  })();
  // The worker's signals: the first SIGTERM drains, the second aborts. Never once it exited (its pid may be another's by then).
  let gone = false;
  void child.exited.then(() => (gone = true));
  const signal = (): void => {
    if (child.pid === undefined || gone || closing) return;
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // gone already
    }
  };
  return { child, pid: child.pid, first, ended, send: signal };
}
