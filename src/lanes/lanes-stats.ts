/**
 * The stats of a lanes run: the dispatcher's own (tasks, the main thread, the output buffer) with
 * the stages and buffers summed over what each lane last said of itself (every ~250 ms, and as it
 * closes). A peak summed over lanes bounds the true peak from above: lanes peak at different times.
 */
import type { BatchStats, BufferStats, ExecutorStats, StageStats } from '../stats.js';
import type { LaneHandle } from './lane-handle.js';
import type { DispatchCounters } from './lanes-runner.js';

export function lanesStats(base: ExecutorStats, lanes: readonly LaneHandle[], dispatch: DispatchCounters): ExecutorStats {
  const all = lanes.map((l) => l.stats).filter((s): s is ExecutorStats => s !== undefined);
  const first = all[0];
  const stages = first === undefined ? [] : first.stages.map((_, i) => sumStage(all.map((s) => s.stages[i]!)));
  const between = first === undefined ? [] : first.buffers.slice(0, -1).map((_, i) => sumBuffer(all.map((s) => s.buffers[i]!)));
  const output = base.buffers[base.buffers.length - 1]!;
  let size = 0;
  let peak = 0;
  for (const s of all) {
    size += s.buffered.size;
    peak += s.buffered.peak;
  }
  return {
    ...base,
    stages,
    buffers: [...between, output],
    buffered: { size, peak },
    lanes: {
      ...dispatch,
      lanes: lanes.map((l) => ({
        lane: l.lane,
        utilization: l.stats?.mainThread.utilization ?? 0,
        recentUtilization: l.stats?.mainThread.recentUtilization ?? 0,
        held: l.held.size,
        peakHeld: l.peakHeld,
        completed: l.completed,
        failed: l.failed,
      })),
    },
  };
}

function sumStage(list: readonly StageStats[]): StageStats {
  const s = list[0]!;
  const batches = list.map((x) => x.batch).filter((b): b is BatchStats => b !== undefined);
  return {
    name: s.name,
    kind: s.kind,
    capacity: sum(list, (x) => x.capacity),
    active: sum(list, (x) => x.active),
    peakActive: sum(list, (x) => x.peakActive),
    peakCapacity: sum(list, (x) => x.peakCapacity),
    running: sum(list, (x) => x.running),
    peakRunning: sum(list, (x) => x.peakRunning),
    completed: sum(list, (x) => x.completed),
    failed: sum(list, (x) => x.failed),
    ...(batches.length > 0 ? { batch: sumBatch(batches) } : {}),
  };
}

function sumBatch(list: readonly BatchStats[]): BatchStats {
  const n = list.length;
  return {
    threads: sum(list, (b) => b.threads),
    busyThreads: sum(list, (b) => b.busyThreads),
    size: Math.max(...list.map((b) => b.size)),
    peak: Math.max(...list.map((b) => b.peak)),
    batches: sum(list, (b) => b.batches),
    onThreads: sum(list, (b) => b.onThreads),
    peakOnThreads: sum(list, (b) => b.peakOnThreads),
    taskMs: sum(list, (b) => b.taskMs) / n,
    handoffMs: sum(list, (b) => b.handoffMs) / n,
  };
}

function sumBuffer(list: readonly BufferStats[]): BufferStats {
  return {
    name: list[0]!.name,
    size: sum(list, (b) => b.size),
    peak: sum(list, (b) => b.peak),
    bound: sum(list, (b) => b.bound),
    peakBound: sum(list, (b) => b.peakBound),
  };
}

function sum<T>(list: readonly T[], f: (x: T) => number): number {
  let n = 0;
  for (const x of list) n += f(x);
  return n;
}
