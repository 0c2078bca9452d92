/**
 * Shared permits (src/lanes/shared-permits.ts): a service's limit held across worker threads. Real
 * lanes (worker threads running test/fixtures/permits-lane.mjs) call a real loopback server that
 * counts its own concurrent requests; the limit is checked against that count and the shared peak,
 * never against time. A request counts at the server from its arrival to the server's `end()`,
 * which lies inside the span its lane holds the permit, so the server's count never exceeds the
 * permits held at that instant.
 */
import { createServer, type Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, SluiceOptionError } from '../src/errors.js';
import { createPermitBuffer, SharedPermits, sharedGate } from '../src/lanes/shared-permits.js';
import { closeServer, listenOnLoopback } from '../src/loopback.js';

const LANE = new URL('./fixtures/permits-lane.mjs', import.meta.url);
const LANES = 3;
const CALLS = 200;

interface Lane {
  /** The lane's messages, in order, once it has posted `count` of them. */
  messages(count: number): Promise<unknown[]>;
  /** The exit code; the test never terminates a lane it expects to exit on its own. */
  readonly exit: Promise<number>;
}

const started: Worker[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.terminate()));
  await Promise.all(servers.splice(0).map((s) => closeServer(s)));
});

function startLane(workerData: Record<string, unknown>): Lane {
  const worker = new Worker(LANE, { workerData });
  started.push(worker);
  const received: unknown[] = [];
  let failure: unknown;
  const listeners = new Set<() => void>();
  worker.on('message', (m: unknown) => {
    received.push(m);
    for (const l of listeners) l();
  });
  worker.on('error', (error) => {
    failure = error;
    for (const l of listeners) l();
  });
  let exited = false;
  const exit = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      exited = true;
      for (const l of listeners) l();
      resolve(code);
    }),
  );
  return {
    exit,
    messages: (count) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (failure !== undefined) reject(failure);
          else if (received.length >= count) resolve(received.slice(0, count));
          else if (exited) reject(new Error(`the lane exited after ${received.length} of ${count} messages`));
          else return;
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
  };
}

interface CountingServer {
  readonly url: string;
  /** Requests between their arrival and the server's `end()` now. */
  active(): number;
  peak(): number;
  arrivals(): number;
}

/**
 * A server that holds each request 2-5 ms and counts. `onEvent` runs on every arrival (after it is
 * counted) and every end (after it is uncounted), so a test can act at a given request.
 */
async function countingServer(onEvent: (kind: 'arrival' | 'end', server: CountingServer) => void = () => {}): Promise<CountingServer> {
  let active = 0;
  let peak = 0;
  let arrivals = 0;
  const http = createServer((_req, res) => {
    active += 1;
    arrivals += 1;
    peak = Math.max(peak, active);
    onEvent('arrival', counting);
    setTimeout(
      () => {
        // Uncounted before the answer leaves: the lane still holds its permit until it reads it.
        active -= 1;
        onEvent('end', counting);
        res.end('ok');
      },
      2 + (arrivals % 4),
    );
  });
  servers.push(http);
  const url = await listenOnLoopback(http);
  const counting: CountingServer = { url, active: () => active, peak: () => peak, arrivals: () => arrivals };
  return counting;
}

interface CallsReport {
  readonly ok: number;
  readonly activeCount: number;
  readonly pendingCount: number;
  readonly waiting: number;
}

/** Starts the lanes, each making CALLS calls, and waits for their reports and their own exits. */
async function runLanes(buffer: SharedArrayBuffer, url: string): Promise<{ reports: CallsReport[]; exits: number[] }> {
  const lanes = Array.from({ length: LANES }, () => startLane({ mode: 'calls', buffer, url, calls: CALLS }));
  const reports = await Promise.all(lanes.map(async (l) => (await l.messages(1))[0] as CallsReport));
  const exits = await Promise.all(lanes.map((l) => l.exit));
  return { reports, exits };
}

const idleLane: CallsReport = { ok: CALLS, activeCount: 0, pendingCount: 0, waiting: 0 };

describe('shared permits across lanes (worker threads)', () => {
  it('never lets more than the limit reach the server, reaches it, and each lane exits on its own', async () => {
    const server = await countingServer();
    const buffer = createPermitBuffer(5);
    const { reports, exits } = await runLanes(buffer, server.url);
    const permits = new SharedPermits(buffer);

    expect(reports).toEqual([idleLane, idleLane, idleLane]);
    expect(server.arrivals()).toBe(LANES * CALLS);
    expect(server.peak()).toBe(5);
    expect(permits.peakInFlight).toBe(5);
    expect(permits.inFlight).toBe(0);
    // Exited without terminate(): no waitAsync, timer or socket kept a lane alive.
    expect(exits).toEqual([0, 0, 0]);
  });

  it('holds a lowered limit from the moment in-flight falls to it, and a raised one is reached', async () => {
    const buffer = createPermitBuffer(5);
    const main = new SharedPermits(buffer);
    type Phase = 'five' | 'lowering' | 'two' | 'six';
    let phase: Phase = 'five';
    const peaks: Record<Phase, number> = { five: 0, lowering: 0, two: 0, six: 0 };
    const arrivals: Record<Phase, number> = { five: 0, lowering: 0, two: 0, six: 0 };
    let peakInFlightBeforeRaise = -1;
    const server = await countingServer((kind, s) => {
      // Once in-flight is down to the lowered limit, no acquire can take it above (until raised).
      if (phase === 'lowering' && main.inFlight <= 2) phase = 'two';
      if (kind === 'end') return;
      arrivals[phase] += 1;
      peaks[phase] = Math.max(peaks[phase], s.active());
      if (phase === 'five' && arrivals.five === 150) {
        main.setLimit(2);
        phase = 'lowering';
      } else if (phase === 'two' && arrivals.two === 60) {
        peakInFlightBeforeRaise = main.peakInFlight;
        main.setLimit(6);
        phase = 'six';
      }
    });
    const { reports, exits } = await runLanes(buffer, server.url);

    expect(reports).toEqual([idleLane, idleLane, idleLane]);
    expect(exits).toEqual([0, 0, 0]);
    expect(arrivals.two).toBe(60);
    expect(arrivals.six).toBeGreaterThan(100);
    expect(peaks.five).toBeLessThanOrEqual(5);
    expect(peaks.lowering).toBeLessThanOrEqual(5);
    expect(peaks.two).toBe(2);
    expect(peakInFlightBeforeRaise).toBeLessThanOrEqual(5);
    expect(peaks.six).toBe(6);
    expect(main.peakInFlight).toBe(6);
    expect(main.inFlight).toBe(0);
  });

  it('keeps a lane alive while it waits for a permit, and leaves no timer once it has one', async () => {
    const buffer = createPermitBuffer(1);
    const main = new SharedPermits(buffer);
    expect(main.tryAcquire()).toBe(true);
    const lane = startLane({ mode: 'wait', buffer });
    const [waiting] = await lane.messages(1);
    // A pending Atomics.waitAsync holds no handle: without a timer the lane would exit here.
    expect(waiting).toEqual({ waiting: 1, timers: 1 });
    expect(main.inFlight).toBe(1);
    main.release();
    const [, holding] = await lane.messages(2);
    expect(holding).toEqual({ inFlight: 1, timers: 0 });
    expect(await lane.exit).toBe(0);
    expect(main.inFlight).toBe(0);
  });

  it('pauses until the latest time asked for, seen from every thread', async () => {
    const buffer = createPermitBuffer(1);
    const main = new SharedPermits(buffer);
    expect(main.pausedUntil()).toBe(0);
    const t = Date.now() + 60_000; // beyond 2^32: the cell is 64-bit
    main.pauseUntil(t);
    main.pauseUntil(t - 1000);
    expect(main.pausedUntil()).toBe(t);
    main.pauseUntil(t + 5);
    expect(main.pausedUntil()).toBe(t + 5);

    const lane = startLane({ mode: 'pause', buffer, pauseTo: [t - 10, t + 100] });
    const [report] = await lane.messages(1);
    expect(report).toEqual({ before: t + 5, after: [t + 5, t + 100] });
    expect(main.pausedUntil()).toBe(t + 100);
    expect(await lane.exit).toBe(0);
  });
});

describe('SharedPermits in one thread', () => {
  it('grants at once when free, without a turn, then in call order, queueing behind waiters even when a permit is free', async () => {
    const permits = new SharedPermits(createPermitBuffer(2));
    void permits.acquire();
    // Held as the call returns, and settled already: its callback runs before a later microtask.
    expect(permits.inFlight).toBe(1);
    let second = false;
    void permits.acquire().then(() => {
      second = true;
    });
    await Promise.resolve();
    expect(second).toBe(true);

    const order: string[] = [];
    let granted = (): void => {};
    const nextGrant = (): Promise<void> => new Promise((resolve) => (granted = resolve));
    const grant = (name: string) => (): void => {
      order.push(name);
      granted();
    };
    void permits.acquire().then(grant('a'));
    void permits.acquire().then(grant('b'));
    expect(permits.waiting).toBe(2);
    let next = nextGrant();
    permits.release();
    // A permit is free, but a and b wait: c queues behind them.
    void permits.acquire().then(grant('c'));
    expect(permits.waiting).toBe(3);
    expect(permits.tryAcquire()).toBe(true); // tryAcquire takes a free permit, ahead of the queue
    permits.release();
    for (const expected of [['a'], ['a', 'b'], ['a', 'b', 'c']]) {
      await next;
      expect(order).toEqual(expected);
      expect(permits.inFlight).toBe(2);
      next = nextGrant();
      if (expected.length < 3) permits.release();
    }
    expect(permits.waiting).toBe(0);
    permits.release();
    permits.release();
    expect(permits.inFlight).toBe(0);
    expect(() => permits.release()).toThrow(RangeError);
    expect(permits.inFlight).toBe(0);
  });

  it('holds new acquires while in-flight is above a lowered limit, and a raise wakes the waiters', async () => {
    const permits = new SharedPermits(createPermitBuffer(3));
    for (let i = 0; i < 3; i++) expect(permits.tryAcquire()).toBe(true);
    permits.setLimit(1);
    expect(permits.limit).toBe(1);
    let got = 0;
    const waiters = Array.from({ length: 4 }, () => permits.acquire().then(() => (got += 1)));
    permits.release();
    permits.release();
    expect(permits.tryAcquire()).toBe(false); // 1 held, limit 1
    permits.release();
    await waiters[0];
    expect({ got, inFlight: permits.inFlight, waiting: permits.waiting }).toEqual({ got: 1, inFlight: 1, waiting: 3 });
    permits.setLimit(4);
    await Promise.all(waiters);
    expect({ got, inFlight: permits.inFlight, waiting: permits.waiting, peak: permits.peakInFlight }).toEqual({
      got: 4,
      inFlight: 4,
      waiting: 0,
      peak: 4,
    });
  });

  it('rejects a limit that is not an integer >= 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createPermitBuffer(bad)).toThrow(SluiceOptionError);
    }
    const permits = new SharedPermits(createPermitBuffer(1));
    expect(() => permits.setLimit(0)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'limit' }));
    expect(permits.limit).toBe(1);
    expect(() => new SharedPermits(new SharedArrayBuffer(8))).toThrow(SluiceOptionError);
  });
});

describe('sharedGate', () => {
  it('releases the permit when fn throws synchronously or rejects, and counts its calls', async () => {
    const permits = new SharedPermits(createPermitBuffer(1));
    const gate = sharedGate(permits);
    const boom = new Error('boom');
    const thrown = gate(() => {
      throw boom;
    });
    const rejected = gate(() => Promise.reject(boom));
    let activeInside = -1;
    const fine = gate(() => {
      activeInside = gate.activeCount;
      return 7;
    });
    expect({ active: gate.activeCount, pending: gate.pendingCount }).toEqual({ active: 0, pending: 3 });
    await expect(thrown).rejects.toBe(boom);
    await expect(rejected).rejects.toBe(boom);
    await expect(fine).resolves.toBe(7);
    expect(activeInside).toBe(1);
    expect({ active: gate.activeCount, pending: gate.pendingCount, inFlight: permits.inFlight }).toEqual({
      active: 0,
      pending: 0,
      inFlight: 0,
    });
    expect(permits.peakInFlight).toBe(1);
  });

  it('reads its concurrency from the shared limit and ignores a set', () => {
    const permits = new SharedPermits(createPermitBuffer(4));
    const gate = sharedGate(permits);
    expect(gate.concurrency).toBe(4);
    gate.concurrency = 9;
    expect(gate.concurrency).toBe(4);
    permits.setLimit(2);
    expect(gate.concurrency).toBe(2);
  });
});
