/** The figures `executor.stats()` reports: counters and peaks, never timings. */

export interface StageStats {
  readonly name: string;
  readonly kind: 'io' | 'cpu';
  /**
   * Most tasks the stage holds at once, now: io concurrency (or its service's limit), cpu threads,
   * or (threads + 1) x B for a cpu stage that batches (B > 1).
   */
  readonly capacity: number;
  /** Tasks holding a slot: running, or finished and waiting for room downstream. At most `peakCapacity`. */
  readonly active: number;
  /** Highest `active` seen in this run. */
  readonly peakActive: number;
  /**
   * The largest capacity a task was admitted under in this run: capacity moves with a service's
   * limit and a batching stage's B, and `peakActive` never exceeds this.
   */
  readonly peakCapacity: number;
  /** Tasks running now (io call in flight, or on a worker thread). */
  readonly running: number;
  /** Highest `running` seen in this run. */
  readonly peakRunning: number;
  readonly completed: number;
  readonly failed: number;
  /** A cpu stage's batching (tasks sent to a thread in one message); undefined on io stages. */
  readonly batch?: BatchStats;
}

/**
 * How a cpu stage batches: a free thread receives up to `size` ready tasks in one message.
 * `capacity`, `active` and `running` above count tasks, not batches: a batching stage (B > 1) holds
 * up to (threads + 1) x B tasks, one batch more than its threads run, ready for the first that frees.
 */
export interface BatchStats {
  /** The stage's worker threads. */
  readonly threads: number;
  /** Threads running a message of this stage now. */
  readonly busyThreads: number;
  /** B now: the most tasks the next batch may hold (1: one task per message, as without batching). */
  readonly size: number;
  /** The largest batch sent in this run. */
  readonly peak: number;
  /** Batches (messages to a thread) sent in this run. */
  readonly batches: number;
  /**
   * Tasks in messages to threads now: running or next on their thread. The stage's `running`
   * also counts the tasks waiting in the stage for a free thread (up to one batch more).
   */
  readonly onThreads: number;
  /** The most tasks in messages to threads at once in this run: at most threads x `peak`. */
  readonly peakOnThreads: number;
  /** The mean time a task took on its thread, as measured in the recent batches (ms); 0 until measured. */
  readonly taskMs: number;
  /**
   * The hand-off per message, as measured in the recent batches (ms): how long a batch was away
   * beyond its thread's time on it (post, wake-up, reply, the main thread's turn). 'auto' makes a
   * batch about 20 of these of work (1 to 10 ms).
   */
  readonly handoffMs: number;
}

/** The main thread's event-loop utilisation (0 to 1): how busy the thread that runs every io stage was. */
export interface MainThreadStats {
  /** Over the run so far (0 before the run starts). */
  readonly utilization: number;
  /** Over the last few seconds (about 5; the run so far when it is younger). */
  readonly recentUtilization: number;
}

export interface BufferStats {
  /** `upstream→downstream`, or `output` for outcomes waiting for the consumer. */
  readonly name: string;
  readonly size: number;
  readonly peak: number;
  /** The bound now (in front of a batching cpu stage, and after one, it moves with the stage's B). */
  readonly bound: number;
  /** The largest bound a task entered under in this run: `peak` never exceeds this. */
  readonly peakBound: number;
}

export interface TaskStats {
  /** Tasks taken from the input. */
  readonly pulled: number;
  /** Pulled and not yet yielded as an outcome (nor dropped by an abort). */
  readonly open: number;
  readonly peakOpen: number;
  /** Outcomes with `ok: true`. */
  readonly completed: number;
  /** Outcomes with `ok: false`. */
  readonly failed: number;
}

export interface ExecutorStats {
  readonly stages: readonly StageStats[];
  /** The buffers between stages, then the output buffer. */
  readonly buffers: readonly BufferStats[];
  /**
   * Payloads that finished a stage and wait for the next one (in a buffer, or holding their slot
   * because the buffer is full): the fetched-but-unprocessed data in memory.
   */
  readonly buffered: { readonly size: number; readonly peak: number };
  readonly tasks: TaskStats;
  /**
   * The main thread's load. Every io stage, HTTP parsing and payload handling runs on it, so a job
   * can keep at most about C / m threads busy (C: cpu time per task, m: main-thread time per task):
   * near 1, the main thread is the bottleneck and more threads will not help.
   */
  readonly mainThread: MainThreadStats;
  /**
   * A run in lanes (`createJobExecutor(job, { lanes })`, `sluice run --lanes`): the dispatch and
   * each lane. `stages`, `buffers` and `buffered` are then summed over the lanes (a peak is the sum
   * of the lanes' peaks: a bound on the true one), `tasks` and `mainThread` are the dispatcher's.
   */
  readonly lanes?: LanesStats;
}

/** The lanes of a run and the main thread's dispatch to them. */
export interface LanesStats {
  readonly lanes: readonly LaneStats[];
  /**
   * Most tasks the dispatcher takes from the input ahead of their outcomes (waiting here, or held
   * by a lane): over the lanes, each one's window (its stages' capacities and buffers' bounds) plus
   * twice what it asks to hold ahead. It moves with the lanes' limits and pace; `peakCapacity` is its largest.
   */
  readonly capacity: number;
  readonly peakCapacity: number;
  /** Tasks waiting on the main thread for a lane to ask for them. */
  readonly queued: number;
  /** Tasks sent to lanes and not answered yet. */
  readonly held: number;
  readonly peakHeld: number;
  /** Messages of tasks sent to lanes. */
  readonly batches: number;
  /** Lanes started again after one stopped. */
  readonly restarts: number;
}

export interface LaneStats {
  /** The lane's number, from 0. */
  readonly lane: number;
  /** How busy the lane's thread was (event-loop utilisation, 0 to 1): over its run, and over the last few seconds. */
  readonly utilization: number;
  readonly recentUtilization: number;
  /** Tasks it holds now (sent, not answered), and the most it held at once. */
  readonly held: number;
  readonly peakHeld: number;
  readonly completed: number;
  readonly failed: number;
}
