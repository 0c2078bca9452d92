/**
 * The module a lane's worker thread runs. A lane is a copy of the job's pipeline with an event loop
 * of its own: it builds the pipeline with its program (./program.ts; the job's `setup` and
 * `stages` run here, once per lane), runs its io stages on this thread and its cpu stages in a pool
 * of its own, and takes tasks from the main thread in batches when it has room for them
 * (./lane-feed.ts). It answers every task it took exactly once, in batches (`replies`), or names
 * it in `ended` when its run stops without answering it (an abort, or a stage that cannot run).
 * Services it calls share their limits with every other lane (./lane-services.ts).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { SluiceDataCloneError } from '../errors.js';
import { createExecutor, type Executor } from '../executor.js';
import type { Outcome } from '../outcome.js';
import type { ExecutorStats } from '../stats.js';
import { isTypeScript, registerTypeScript } from '../typescript.js';
import { findUncloneable } from '../wire/clone-path.js';
import { LaneFeed } from './lane-feed.js';
import { LaneServices } from './lane-services.js';
import { laneThreads } from './threads.js';
import type { BuildLane, LaneBuild } from './program.js';
import { wireError, type FromLane, type LaneInit, type Reply, type ToLane } from './wire.js';

/** Replies wait at most this long (ms), or until there are this many, before they go out together. */
const FLUSH_MS = 100;
const FLUSH_AT = 1024;

const init = workerData as LaneInit;
const port = parentPort!;
const post = (message: FromLane): void => port.postMessage(message);
const services = new LaneServices(init.permits, init.lane);
/** Tasks asked for and not posted yet: an ask goes out at once, with the replies gathered so far. */
let wanted = 0;
const feed = new LaneFeed((n) => {
  wanted += n;
  flush();
});

let build: LaneBuild | undefined;
let executor: Executor | undefined;
let controller: AbortController | undefined;
let running: Promise<void> | undefined;
let closing = false;
let replies: Reply[] = [];
let flushTimer: NodeJS.Timeout | undefined;
let lastStage = '';

port.on('message', (message: ToLane) => {
  switch (message.t) {
    case 'tasks':
      feed.push(message.indexes, message.keys, message.tasks);
      if (running === undefined && !closing) running = runOnce();
      break;
    case 'abort':
      controller?.abort(new Error('the run was aborted'));
      break;
    case 'limits':
      services.limitsChanged();
      break;
    case 'close':
      void close();
      break;
  }
});

const started = start();

async function start(): Promise<void> {
  try {
    await open();
  } catch (error) {
    // Close first: the main thread ends this thread when it reads the refusal.
    await build?.close().catch(() => undefined);
    build = undefined;
    post({ t: 'refused', error: wireError(error) });
  }
}

async function open(): Promise<void> {
  if (isTypeScript(init.program)) await registerTypeScript();
  const program = (await import(init.program)) as { buildLane: BuildLane };
  build = await program.buildLane({
    lane: init.lane,
    lanes: init.lanes,
    params: init.params,
    service: (name, options) => services.make(name, options),
  });
  // Each lane's cpu stages get their share of the threads, so the lanes together fit the machine.
  executor = createExecutor({ ...build.options, stages: laneThreads(build.stages, undefined, init.lanes) });
  lastStage = build.stages[build.stages.length - 1]!.name;
  const stats = executor.stats();
  post({ t: 'ready', stats, window: windowOf(stats), ahead: feed.target, timeOrigin: performance.timeOrigin });
  startStats();
  feed.top();
}

/** One run of the lane's executor: from the first tasks after the lane started (or its last run ended) to an abort, a fatal error or the close. */
async function runOnce(): Promise<void> {
  const c = new AbortController();
  controller = c;
  feed.startRun();
  let fatal: unknown;
  try {
    const run = executor!.run(feed, { signal: c.signal, key: (_task, local) => feed.keyOf(local) });
    for await (const outcome of run) reply(outcome);
  } catch (error) {
    if (!c.signal.aborted) fatal = error;
  }
  flush();
  controller = undefined;
  running = undefined;
  if (c.signal.aborted || fatal !== undefined) {
    post({ t: 'ended', held: feed.drop(), ...(fatal !== undefined ? { fatal: wireError(fatal) } : {}) });
    // Only a run's pulls ask for tasks: ask now, or a lane the main thread owes nothing would never get the next run's.
    if (!closing) feed.top();
  }
}

function reply(outcome: Outcome): void {
  const entry = feed.answer(outcome.index);
  if (entry === undefined) return;
  replies.push(
    outcome.ok ? [entry.index, outcome.value] : [entry.index, undefined, outcome.stage, wireError(outcome.error), outcome.attempts],
  );
  // A lane left with nothing to do answers at once: the main thread may be waiting on it alone
  // (the last tasks, or a task that runs alone after a lane stopped).
  if (replies.length >= FLUSH_AT || feed.holding === 0) flush();
  else flushTimer ??= setTimeout(flush, FLUSH_MS);
}

function flush(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  const list = replies;
  replies = [];
  const reports = services.take();
  const want = wanted;
  wanted = 0;
  if (list.length === 0 && reports === undefined && want === 0) return;
  const rest = { ...(reports !== undefined ? { services: reports } : {}), ...(want > 0 ? { want } : {}) };
  try {
    port.postMessage({ t: 'replies', replies: list, ...rest } satisfies FromLane);
  } catch {
    // A value that cannot be cloned fails its task alone; the others go as they are.
    const kept = list.map((r) => (r[1] === undefined || canClone(r[1]) ? r : cloneFailure(r[0], r[1])));
    port.postMessage({ t: 'replies', replies: kept, ...rest } satisfies FromLane);
  }
}

function canClone(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function cloneFailure(index: number, value: unknown): Reply {
  let cause: unknown;
  try {
    structuredClone(value);
  } catch (error) {
    cause = error;
  }
  const error = new SluiceDataCloneError(lastStage, 'result', findUncloneable(value, 'result'), cause);
  return [index, undefined, lastStage, wireError(error), 1];
}

function startStats(): void {
  let taken = 0;
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    feed.pace((feed.taken - taken) / Math.max(1, now - at));
    taken = feed.taken;
    at = now;
    const stats = executor!.stats();
    post({ t: 'stats', stats, services: services.stats(), window: windowOf(stats), ahead: feed.target });
  }, init.statsIntervalMs);
  timer.unref();
}

/** Most tasks the lane's pipeline holds at once: its stages' capacities and its buffers' bounds. */
function windowOf(stats: ExecutorStats): number {
  let n = 0;
  for (const s of stats.stages) n += s.capacity;
  for (const b of stats.buffers) n += b.bound;
  return n;
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await started;
  feed.end();
  await running;
  flush();
  if (executor !== undefined) {
    const stats = executor.stats();
    post({ t: 'stats', stats, services: services.stats(), window: windowOf(stats), ahead: feed.target });
    await executor.close();
  }
  try {
    await build?.close();
    post({ t: 'closed' });
  } catch (error) {
    post({ t: 'closed', error: wireError(error) });
  }
}
