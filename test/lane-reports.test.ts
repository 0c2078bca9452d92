/**
 * What a lane reports to the main thread about a service's calls: samples only when the main
 * thread's limit can move (not a fixed limit), attempt events only while the main thread has an
 * observer (metrics). Each sample or event is a structured clone the dispatcher decodes, so what
 * nobody reads is not sent. One thread here: the hub's side and a lane's side over the same buffer.
 */
import { describe, expect, it } from 'vitest';
import { LaneServices } from '../src/lanes/lane-services.js';
import { ServiceHub } from '../src/lanes/service-hub.js';
import type { ServiceOptions } from '../src/services/options.js';

function pair(options: ServiceOptions): {
  hub: ServiceHub;
  main: ReturnType<ServiceHub['make']>;
  lane: LaneServices;
  call: () => Promise<number>;
} {
  const hub = new ServiceHub(() => undefined);
  const main = hub.make('docs', options);
  const lane = new LaneServices(hub.buffers(), 0);
  const svc = lane.make('docs', options);
  return { hub, main, lane, call: () => svc.call(async () => 1) };
}

describe("a lane's reports", () => {
  it('a fixed limit without an observer: the lane sends nothing', async () => {
    const { lane, call } = pair({ limit: 4 });
    for (let i = 0; i < 5; i++) await call();
    expect(lane.take()).toBeUndefined();
    // Its own stats still count every call (they go with the lane's stats, not in the reports).
    expect(lane.stats().docs).toMatchObject({ calls: 5, successes: 5 });
  });

  it('an adaptive limit: samples, and no events until the main thread observes', async () => {
    const { hub, main, lane, call } = pair({ limit: 'aimd', initial: 2, max: 8 });
    await call();
    await call();
    const first = lane.take();
    expect(first?.docs?.samples).toHaveLength(2);
    expect(first?.docs?.events).toEqual([]);
    const seen: string[] = [];
    const off = main.observe((event) => seen.push(event.service));
    await call();
    const second = lane.take();
    expect(second?.docs?.samples).toHaveLength(1);
    expect(second?.docs?.events).toHaveLength(1);
    // The main thread's copy replays them to its observers, and its limit reads the samples.
    hub.ingest(second!, 0);
    expect(seen).toEqual(['docs']);
    off();
    await call();
    expect(lane.take()?.docs?.events).toEqual([]);
  });

  it('a fixed limit with an observer: events only', async () => {
    const { main, lane, call } = pair({ limit: 3 });
    main.observe(() => undefined);
    await call();
    const report = lane.take();
    expect(report?.docs?.samples).toEqual([]);
    expect(report?.docs?.events).toHaveLength(1);
  });
});
