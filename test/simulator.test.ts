/**
 * The service simulator (bench/kit/simulator/, the kit the bench and the tests share): a real child process
 * on 127.0.0.1, driven over HTTP.
 * Counts never depend on timing: the service's `hold` setting keeps finished requests on their
 * workers until the test releases them, so "10 arrive while 3 are served" is a fact, not a race.
 * Waiting is for counters (the service's stats), never for a time window.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, get, request } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { simulatorBuild, startSimulator as startBenchSimulator } from '../bench/harness/simulator.js';
import { SIMULATOR_INVALID_OPTION, SimulatorOptionError } from '../bench/kit/errors.js';
import { startSimulator, startSimulatorInProcess, type Simulator } from '../bench/kit/simulator/client.js';
import { percentile, startOnlineTraffic } from '../bench/kit/simulator/online.js';
import type { SimulatorStats } from '../bench/kit/simulator/protocol.js';

const owned: Simulator[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await Promise.all(owned.splice(0).map((sim) => sim.close()));
});

async function child(options: Parameters<typeof startSimulator>[0]): Promise<Simulator> {
  const sim = await startSimulator(options);
  owned.push(sim);
  return sim;
}

async function inProcess(options: Parameters<typeof startSimulatorInProcess>[0]): Promise<Simulator> {
  const sim = await startSimulatorInProcess(options);
  owned.push(sim);
  return sim;
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly bytes: number;
}

function fetchWork(url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Send n batch requests at once (each on its own socket). */
function burst(sim: Simulator, n: number, from = 0): Promise<Answer[]> {
  const agent = new Agent({ keepAlive: true });
  agents.push(agent);
  return Promise.all(Array.from({ length: n }, (_, i) => fetchWork(`${sim.url}/work/${from + i}`, agent)));
}

/** Wait until the service's counters satisfy `ok` (polling its stats; no time window). */
async function until(sim: Simulator, ok: (s: SimulatorStats) => boolean): Promise<SimulatorStats> {
  for (;;) {
    const stats = await sim.stats();
    if (ok(stats)) return stats;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function post(url: string, text: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const count = (answers: readonly Answer[], status: number): number => answers.filter((a) => a.status === status).length;

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 50, null],
    [[7], 0, 7],
    [[7], 99, 7],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 51, 3],
    [[1, 2, 3, 4], 100, 4],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99, 10],
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
    [Array.from({ length: 1000 }, (_, i) => i + 1), 99, 990],
    [Array.from({ length: 1000 }, (_, i) => i + 1), 50, 500],
  ])('of %j at p%d is %j', (sorted, p, expected) => {
    expect(percentile(sorted, p)).toBe(expected);
  });

  it('rejects p outside 0..100', () => {
    expect(() => percentile([1], 101)).toThrow(SimulatorOptionError);
  });
});

describe('service simulator in a child process', () => {
  // The bench's compiled child (built by the last case) lives in a temp directory until disposed.
  afterAll(async () => (await simulatorBuild(() => undefined)).dispose());

  it('serves C_s at once and queues the rest, all answered', async () => {
    const sim = await child({ capacity: 3, latencyMs: 5, hold: true, bodyBytes: 100 });
    expect(sim.pid).toBeTypeOf('number');
    const answers = burst(sim, 10);
    const held = await until(sim, (s) => s.inFlight + s.queueLength === 10);
    expect(held).toMatchObject({ inFlight: 3, queueLength: 7 });
    await sim.control({ hold: false });
    const done = await answers;
    expect(done.map((a) => [a.status, a.bytes])).toEqual(Array.from({ length: 10 }, () => [200, 100]));
    expect(await sim.stats()).toMatchObject({
      served: 10,
      rejectedTotal: 0,
      inFlight: 0,
      queueLength: 0,
      peakInFlight: 3,
      peakQueueLength: 7,
    });
  });

  it('past the queue bound answers 503 with Retry-After (or 429, or no header)', async () => {
    const capacity = 3;
    const queueBound = 2;
    const sim = await child({ capacity, queueBound, retryAfterS: 2, hold: true });
    const answers = burst(sim, 10);
    await until(sim, (s) => s.inFlight + s.queueLength + s.rejectedTotal === 10);
    await sim.control({ hold: false });
    const done = await answers;
    expect(count(done, 200)).toBe(capacity + queueBound);
    expect(count(done, 503)).toBe(10 - capacity - queueBound);
    expect(done.filter((a) => a.status === 503).every((a) => a.retryAfter === '2')).toBe(true);
    expect(await sim.stats()).toMatchObject({ served: 5, rejected: { '503': 5, '429': 0 }, peakQueueLength: 2 });

    await sim.control({ reject: 429, retryAfterS: null, hold: true });
    await sim.reset();
    const again = burst(sim, 10, 100);
    await until(sim, (s) => s.inFlight + s.queueLength + s.rejectedTotal === 10);
    await sim.control({ hold: false });
    const second = await again;
    expect(count(second, 429)).toBe(5);
    expect(second.every((a) => a.retryAfter === undefined)).toBe(true);
    expect(await sim.stats()).toMatchObject({ served: 5, rejected: { '503': 0, '429': 5 } });
  });

  it('control changes capacity at run time; peak in-flight follows', async () => {
    const sim = await child({ capacity: 2, hold: true });
    const answers = burst(sim, 6);
    expect(await until(sim, (s) => s.queueLength === 4)).toMatchObject({ inFlight: 2, peakInFlight: 2 });
    const config = await sim.control({ capacity: 5 });
    expect(config.capacity).toBe(5);
    // More workers start queued requests at once.
    expect(await sim.stats()).toMatchObject({ inFlight: 5, queueLength: 1, peakInFlight: 5 });
    await sim.control({ hold: false });
    expect(count(await answers, 200)).toBe(6);

    await sim.control({ capacity: 1 });
    await sim.reset();
    expect(count(await burst(sim, 4), 200)).toBe(4);
    expect(await sim.stats()).toMatchObject({ served: 4, peakInFlight: 1, config: { capacity: 1 } });
  });

  it('bad control input gets 400 naming the field, and changes nothing', async () => {
    const sim = await child({});
    const cases: [string, string][] = [
      ['{"capacity":0}', 'capacity'],
      ['{"latencyMs":"fast"}', 'latencyMs'],
      ['{"queueBound":-1}', 'queueBound'],
      ['{"reject":500}', 'reject'],
      ['{"retryAfterS":1.5}', 'retryAfterS'],
      ['{"capacity":4,"bogus":1}', 'bogus'],
      ['[1]', 'control'],
      ['not json', 'control'],
    ];
    for (const [text, field] of cases) {
      const { status, body } = await post(`${sim.url}/control`, text);
      expect({ text, status, field: body.field }).toEqual({ text, status: 400, field });
      expect(body.error).toContain(`\`${field}\``);
    }
    const error = await sim.control({ overloadPenalty: -1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorOptionError);
    expect(error).toMatchObject({ code: SIMULATOR_INVALID_OPTION, option: 'overloadPenalty' });
    expect((await sim.stats()).config).toMatchObject({ capacity: 10, latencyMs: 20, reject: 503 });
    await expect(startSimulator({ capacity: 1.5 })).rejects.toMatchObject({ option: 'capacity' });
  });

  it('samples a time series, and reset clears it', async () => {
    const sim = await child({ capacity: 2, sampleMs: 10, hold: true });
    const answers = burst(sim, 5);
    await until(sim, (s) => s.queueLength === 3);
    while ((await sim.series()).filter((row) => row.queueLength === 3).length < 2) await sim.stats();
    const rows = await sim.series();
    expect(rows.at(-1)).toMatchObject({ capacity: 2, inFlight: 2, queueLength: 3, maxQueueLength: 3, servedTotal: 0 });
    await sim.control({ hold: false });
    await answers;
    const after = await sim.reset();
    expect(after).toMatchObject({ served: 0, peakInFlight: 0, peakQueueLength: 0 });
    expect((await sim.series()).every((row) => row.servedTotal === 0)).toBe(true);
  });

  it('close() kills the child and awaits its exit; a disconnected child exits by itself', async () => {
    const sim = await startSimulator({});
    const pid = sim.pid!;
    expect(alive(pid)).toBe(true);
    await sim.close();
    await sim.close();
    expect(alive(pid)).toBe(false);

    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const entry = fileURLToPath(new URL('../bench/kit/simulator/child.ts', import.meta.url));
    const orphan = fork(entry, ['{}'], { execArgv: ['--import', tsx], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const exited = new Promise((resolve) => orphan.once('exit', resolve));
    await new Promise((resolve) => orphan.once('message', resolve));
    orphan.disconnect();
    expect(await exited).toBe(0);
  });

  it("runs from the bench's compiled child (plain ESM, no tsx), as the bench starts it", async () => {
    const build = await simulatorBuild(() => undefined);
    expect(build.mode).toBe('bundle');
    const sim = await startBenchSimulator({ capacity: 1 });
    owned.push(sim);
    const argv = readFileSync(`/proc/${sim.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain(build.file('simulator-child'));
    expect(argv.filter((a) => a.includes('tsx'))).toEqual([]);
    expect(count(await burst(sim, 2), 200)).toBe(2);
    expect(await sim.stats()).toMatchObject({ served: 2, peakInFlight: 1 });
  });
});

describe('online traffic', () => {
  it('shares the batch queue, and its summary matches the service counts', async () => {
    const sim = await inProcess({ capacity: 1, latencyMs: 1, hold: true });
    const batch = burst(sim, 1);
    await until(sim, (s) => s.inFlight === 1);
    const online = startOnlineTraffic({ url: sim.url, ratePerSecond: 100, timeoutMs: 60_000 });
    // Online requests wait behind the held batch request: same workers, same queue.
    expect(await until(sim, (s) => s.queueLength >= 3)).toMatchObject({ served: 0, inFlight: 1 });
    await sim.control({ hold: false });
    expect(count(await batch, 200)).toBe(1);
    await until(sim, (s) => s.online.served >= 10);
    const summary = await online.stop();
    const stats = await sim.stats();
    expect(summary.count).toBe(stats.online.served);
    expect(summary).toMatchObject({ ok: summary.count, errors: 0, rejected: 0, timeouts: 0 });
    const { p50, p90, p99, max } = summary;
    expect(p50).toBeGreaterThan(0);
    expect(p50! <= p90! && p90! <= p99! && p99! <= max!).toBe(true);
  });

  it('counts rejections and timeouts as errors; the service sees the timed-out clients leave', async () => {
    const sim = await inProcess({ capacity: 1, queueBound: 1, hold: true });
    const batch = burst(sim, 1);
    await until(sim, (s) => s.inFlight === 1);
    const online = startOnlineTraffic({ url: sim.url, ratePerSecond: 50, timeoutMs: 50 });
    await until(sim, (s) => s.abandoned >= 2 && s.online.rejected >= 2);
    const summary = await online.stop();
    const stats = await until(sim, (s) => s.queueLength === 0);
    expect(summary.ok).toBe(0);
    expect(summary.errors).toBe(summary.count);
    expect(summary.rejected).toBe(stats.online.rejected);
    expect(summary.timeouts).toBe(stats.abandoned);
    expect(summary.rejected + summary.timeouts).toBe(summary.count);
    expect(summary.p50).toBeGreaterThanOrEqual(45); // timeouts count at the time waited (timers may fire ~1 ms early)

    online.reset();
    expect(online.snapshot()).toMatchObject({ count: 0, p50: null, max: null });
    await sim.control({ hold: false });
    expect(count(await batch, 200)).toBe(1);
  });
});
