/**
 * The dispatcher: one stage runner that stands for every lane, so the main thread's pipeline run
 * (src/run/run.ts) does for lanes what it does for stages: keys, ordered output and its reordering,
 * abort, drain, stopOnError and the bounds. A task it is given waits here until a lane asks for
 * tasks (`want`); a lane gets a batch of them in one message, so work is pulled, never pushed, and
 * the lane that frees first takes the next. Replies come back in batches; payloads never cross
 * the main thread (a lane fetches them and hands only its result back).
 *
 * A lane that stops (a crash) gives back what it held: each of those tasks runs again once, on
 * the next lane that asks, and fails with `SluiceLaneError` if a second lane stops under it. The
 * lane is replaced by a new one; the run goes on.
 */
import { SluiceAbortError, SluiceDataCloneError, SluiceLaneError } from '../errors.js';
import { StageFailure, StageFatal, type StageRunner, type TaskRef } from '../stages/runner.js';
import type { LanesStats } from '../stats.js';
import { findUncloneable } from '../wire/clone-path.js';
import { LaneHandle, type Pending } from './lane-handle.js';
import type { ServiceHub } from './service-hub.js';
import { unwireError, type FromLane, type LaneInit } from './wire.js';

/** How long a lane's ask that the waiting tasks cannot fill waits for more before what there is goes (ms). */
const PARTIAL_MS = 5;

/** How long a moved limit waits to be announced to the lanes, gathering further moves (ms). */
const LIMITS_MS = 10;

export interface LanesRunnerInit {
  readonly lanes: number;
  readonly program: string;
  readonly params: unknown;
  readonly hub: ServiceHub;
  readonly statsIntervalMs: number;
  /** How long a lane may take to close before it is terminated (ms). */
  readonly closeTimeoutMs: number;
}

/** Figures of the dispatch, for stats (`LanesStats` without the lanes). */
export type DispatchCounters = Omit<LanesStats, 'lanes'>;

export class LanesRunner implements StageRunner {
  readonly name = 'lanes';
  readonly kind = 'io' as const;
  readonly followsCapacity = true;
  readonly #init: LanesRunnerInit;
  readonly lanes: LaneHandle[] = [];
  #queue: Pending[] = [];
  #head = 0;
  #capacity = 0;
  #peakCapacity = 0;
  readonly #listeners = new Set<() => void>();
  #signal: AbortSignal | undefined;
  #scheduled = false;
  #closing = false;
  #next = 0;
  #held = 0;
  #peakHeld = 0;
  #batches = 0;
  #restarts = 0;
  #limitsTimer: NodeJS.Timeout | undefined;
  #partialTimer: NodeJS.Timeout | undefined;
  /** Why every lane is gone, once none is left to run tasks. */
  #dead: unknown;

  constructor(init: LanesRunnerInit) {
    this.#init = init;
  }

  /** Starts the lanes and waits until each has built its pipeline; the first refusal closes them all and rejects. */
  async start(): Promise<void> {
    for (let lane = 0; lane < this.#init.lanes; lane++) this.lanes.push(this.#spawn(lane));
    try {
      await Promise.all(this.lanes.map((l) => l.ready));
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#readCapacity();
  }

  get capacity(): number {
    return this.#capacity;
  }

  onCapacityChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  startRun(): void {
    this.#peakHeld = this.#held;
  }

  run(input: unknown, ref: TaskRef, signal: AbortSignal): Promise<unknown> {
    if (signal !== this.#signal) this.#follow(signal);
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#dead !== undefined) return Promise.reject(new StageFailure(this.#dead, 0, 'lane'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, ref, resolve, reject, stops: 0 });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#serve();
        });
      }
    });
  }

  /**
   * A shared limit moved: the lanes' stages follow it. The permits read the new limit at once; the
   * lanes' capacities follow within LIMITS_MS, one message per lane however often an adaptive limit moves.
   */
  limitsChanged(): void {
    if (this.#limitsTimer !== undefined) return;
    this.#limitsTimer = setTimeout(() => {
      this.#limitsTimer = undefined;
      for (const lane of this.lanes) if (lane.state === 'ready') lane.post({ t: 'limits' });
    }, LIMITS_MS);
    this.#limitsTimer.unref();
  }

  counters(): DispatchCounters {
    return {
      capacity: this.#capacity,
      peakCapacity: this.#peakCapacity,
      queued: this.#queue.length - this.#head,
      held: this.#held,
      peakHeld: this.#peakHeld,
      batches: this.#batches,
      restarts: this.#restarts,
    };
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#partialTimer);
    clearTimeout(this.#limitsTimer);
    await Promise.all(this.lanes.map((l) => l.close(this.#init.closeTimeoutMs)));
    const error = this.lanes.find((l) => l.closeError !== undefined)?.closeError;
    if (error !== undefined) throw error;
  }

  #spawn(lane: number): LaneHandle {
    const init: LaneInit = {
      lane,
      lanes: this.#init.lanes,
      program: this.#init.program,
      params: this.#init.params,
      permits: this.#init.hub.buffers(),
      statsIntervalMs: this.#init.statsIntervalMs,
    };
    return new LaneHandle(init, {
      message: (l, m) => this.#onMessage(l, m),
      stopped: (l, error) => this.#onStopped(l, error),
    });
  }

  /** Every task of a run is given the run's signal: on abort, the waiting tasks fail at once and the lanes abort what they hold. */
  #follow(signal: AbortSignal): void {
    this.#signal = signal;
    signal.addEventListener(
      'abort',
      () => {
        const waiting = this.#queue.slice(this.#head);
        this.#queue = [];
        this.#head = 0;
        for (const p of waiting) p.reject(signal.reason);
        for (const lane of this.lanes) if (lane.state === 'ready') lane.post({ t: 'abort' });
      },
      { once: true },
    );
  }

  #onMessage(lane: LaneHandle, m: FromLane): void {
    switch (m.t) {
      case 'ready':
        this.#readCapacity();
        this.#serve();
        break;
      case 'replies':
        if (m.services !== undefined) this.#init.hub.ingest(m.services, lane.offsetMs);
        for (const r of m.replies) {
          const p = lane.held.get(r[0]);
          if (p === undefined) continue;
          lane.held.delete(r[0]);
          this.#held -= 1;
          if (r.length === 2) {
            lane.completed += 1;
            p.resolve(r[1]);
          } else {
            lane.failed += 1;
            p.reject(new StageFailure(unwireError(r[3]), r[4], r[2]));
          }
        }
        if (m.want !== undefined) lane.demand += m.want;
        // The lane asked for more, or it ran a task alone (one that stopped a lane) and may take more now.
        if (this.#head < this.#queue.length) this.#serve();
        this.#readCapacity();
        break;
      case 'stats':
        lane.stats = m.stats;
        lane.window = m.window;
        lane.ahead = m.ahead;
        this.#init.hub.laneStats(lane.lane, m.services);
        this.#readCapacity();
        break;
      case 'ended': {
        const fatal = m.fatal === undefined ? undefined : unwireError(m.fatal);
        for (const index of m.held) {
          const p = lane.held.get(index);
          if (p === undefined) continue;
          lane.held.delete(index);
          this.#held -= 1;
          p.reject(
            fatal !== undefined ? new StageFatal(fatal) : (this.#signal?.reason ?? new SluiceAbortError('the lane stopped its run')),
          );
        }
        this.#readCapacity();
        break;
      }
      default:
        break;
    }
  }

  /** A lane stopped: what it held runs again once elsewhere (or fails), and a new lane takes its place. */
  #onStopped(lane: LaneHandle, error: unknown): void {
    this.#init.hub.reclaim(lane.lane);
    const held = [...lane.held.values()];
    lane.held.clear();
    this.#held -= held.length;
    const again: Pending[] = [];
    for (const p of held) {
      if (this.#signal?.aborted) p.reject(this.#signal.reason);
      else if (p.stops >= 1 && held.length === 1)
        p.reject(
          new StageFailure(
            new SluiceLaneError(
              lane.lane,
              `stopped while it held this task alone, the second lane to stop under it (${messageOf(error)})`,
              error,
            ),
            p.stops + 1,
            'lane',
          ),
        );
      else {
        p.stops += 1;
        again.push(p);
      }
    }
    if (again.length > 0) {
      this.#queue = [...again, ...this.#queue.slice(this.#head)];
      this.#head = 0;
    }
    const i = this.lanes.indexOf(lane);
    if (this.#closing || i < 0) return;
    this.#restarts += 1;
    const next = this.#spawn(lane.lane);
    this.lanes[i] = next;
    next.ready.then(
      () => undefined,
      (refused: unknown) => {
        // The new lane could not start: the run goes on with the others, if any are left.
        this.lanes.splice(this.lanes.indexOf(next), 1);
        this.#readCapacity();
        if (this.lanes.length === 0) this.#giveUp(refused);
      },
    );
    this.#readCapacity();
    this.#serve();
  }

  #giveUp(error: unknown): void {
    this.#dead = error;
    const waiting = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const p of waiting) p.reject(new StageFailure(error, 0, 'lane'));
  }

  /** Hands waiting tasks to the lanes that asked for them, a batch per lane, taking the lanes in turn. */
  #serve(force = false): void {
    const n = this.lanes.length;
    for (let k = 0; k < n && this.#head < this.#queue.length; k++) {
      const lane = this.lanes[(this.#next + k) % n]!;
      if (lane.state !== 'ready' || lane.demand <= 0) continue;
      // A task held by a lane that stopped runs alone on a lane that holds nothing else, and that
      // lane gets nothing more meanwhile: if it stops too, that task is the one that stops lanes.
      if (this.#queue[this.#head]!.stops > 0 || this.#alone(lane)) {
        if (lane.held.size > 0) continue;
        this.#send(lane, [this.#queue[this.#head++]!]);
        continue;
      }
      const waiting = this.#queue.length - this.#head;
      // Tasks reach the dispatcher one by one as the run admits them; a lane that still has work
      // (it asks with a quarter of its ask left) gets its ask whole, or what there is after
      // PARTIAL_MS: one message of many tasks rather than many of a few (each costs a wake-up).
      if (waiting < lane.demand && lane.held.size > 0 && !force) {
        this.#servePartialLater();
        continue;
      }
      const take = Math.min(lane.demand, waiting);
      const batch = this.#queue.slice(this.#head, this.#head + take);
      this.#head += take;
      this.#send(lane, batch);
    }
    this.#next = (this.#next + 1) % Math.max(1, n);
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    }
  }

  #servePartialLater(): void {
    if (this.#partialTimer !== undefined) return;
    this.#partialTimer = setTimeout(() => {
      this.#partialTimer = undefined;
      this.#serve(true);
    }, PARTIAL_MS);
  }

  /** Whether the lane holds a task that stopped a lane before (which runs alone). */
  #alone(lane: LaneHandle): boolean {
    if (lane.held.size !== 1) return false;
    for (const p of lane.held.values()) return p.stops > 0;
    return false;
  }

  #send(lane: LaneHandle, batch: Pending[]): void {
    const indexes = batch.map((p) => p.ref.index);
    const keys = batch.map((p) => p.ref.key);
    const tasks = batch.map((p) => p.input);
    let sent = batch;
    try {
      lane.post({ t: 'tasks', indexes, keys, tasks });
    } catch {
      // A task that cannot be cloned fails alone; the rest of the batch goes.
      sent = [];
      for (const p of batch) {
        try {
          structuredClone(p.input);
          sent.push(p);
        } catch (error) {
          p.reject(
            new StageFailure(
              new SluiceDataCloneError(lane.stats?.stages[0]?.name ?? 'lane', 'input', findUncloneable(p.input, 'input'), error),
              0,
            ),
          );
        }
      }
      if (sent.length === 0) return;
      lane.post({ t: 'tasks', indexes: sent.map((p) => p.ref.index), keys: sent.map((p) => p.ref.key), tasks: sent.map((p) => p.input) });
    }
    lane.demand -= sent.length;
    lane.batches += 1;
    this.#batches += 1;
    for (const p of sent) lane.held.set(p.ref.index, p);
    this.#held += sent.length;
    if (this.#held > this.#peakHeld) this.#peakHeld = this.#held;
    if (lane.held.size > lane.peakHeld) lane.peakHeld = lane.held.size;
  }

  /**
   * The most tasks the run hands the dispatcher at once: what the lanes hold, what they asked for
   * and have not got, and a reserve of what each asks to hold ahead, so that a lane's next ask is
   * answered at once from here. It moves with every ask and answer: the input is read only as
   * fast as lanes ask for work.
   */
  #readCapacity(): void {
    let c = this.#held;
    for (const lane of this.lanes) if (lane.state === 'ready') c += lane.demand + aheadOf(lane);
    if (c === this.#capacity) return;
    this.#capacity = c;
    if (c > this.#peakCapacity) this.#peakCapacity = c;
    for (const listener of this.#listeners) listener();
  }
}

/** What a lane asks to hold ahead of its pipeline now. */
function aheadOf(lane: LaneHandle): number {
  return lane.ahead;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
