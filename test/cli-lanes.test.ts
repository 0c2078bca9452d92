/**
 * `sluice run JOB --lanes P` end to end: the built executable in child processes running
 * fixtures/cli-lanes/job.mjs (plain ESM on the built package, so neither the child nor its lanes
 * start a TypeScript loader) against a real loopback server that counts its own concurrent requests
 * and their peak. A request counts from its arrival to just before `end()`, inside the span its lane
 * holds a permit of service "docs", so the server's peak never exceeds the limit when the lanes
 * share it. The server may hold requests until a condition of its counters holds (the first ones
 * until the limit is reached, one document until others have arrived, the later ones until the
 * test lets them go), so that what the tests assert depends on counters, never on time; the wait
 * limits below only stop a hung test. Every child and server is stopped after each test.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { closeServer, listenOnLoopback } from '../src/loopback.js';
import { killLeftovers, lines, startBin, until, type Running } from './helpers/bin-child.js';

const JOB = fileURLToPath(new URL('./fixtures/cli-lanes/job.mjs', import.meta.url));
const LIMIT = 3;

interface Line {
  readonly ok: boolean;
  readonly index: number;
  readonly value?: { n: number; bytes: number; sum: number; lane: number };
}

/** A document's bytes: a length and content of its own for each `n`. */
function docOf(n: number): Buffer {
  return Buffer.alloc(64 + (n % 37), (n * 7) % 251);
}

interface DocServer {
  readonly url: string;
  readonly inFlight: number;
  readonly peak: number;
  /** Requests that arrived (since the last `reset`). */
  readonly arrived: number;
  /** The documents asked for (since the last `reset`). */
  readonly asked: Set<number>;
  /** Milliseconds each answer waits (after any hold): a slow server keeps a run going. */
  delayMs: number;
  /** A request that arrives `k`-th (from 1) for document `n` waits until the condition returned holds; undefined: no wait. */
  hold: ((n: number, k: number) => (() => boolean) | undefined) | undefined;
  reset(): void;
  /** Re-checks the held requests (after the test changed what they wait on). */
  check(): void;
  close(): Promise<void>;
}

async function startDocServer(): Promise<DocServer> {
  let inFlight = 0;
  let peak = 0;
  let arrived = 0;
  let asked = new Set<number>();
  let closing = false;
  let held: { ready: () => boolean; go: () => void }[] = [];
  const check = (): void => {
    const now = held;
    held = [];
    for (const h of now)
      if (closing || h.ready()) h.go();
      else held.push(h);
  };
  const server: Server = createServer((req, res) => {
    const n = Number(/\/doc\/(\d+)$/.exec(req.url ?? '')?.[1] ?? Number.NaN);
    inFlight += 1;
    if (inFlight > peak) peak = inFlight;
    arrived += 1;
    asked.add(n);
    const answer = (): void => {
      const send = (): void => {
        inFlight -= 1;
        if (Number.isNaN(n)) res.writeHead(404).end();
        else res.end(docOf(n));
        check();
      };
      if (docs.delayMs > 0) setTimeout(send, docs.delayMs);
      else send();
    };
    const ready = docs.hold?.(n, arrived);
    if (ready === undefined) answer();
    else held.push({ ready, go: answer });
    check();
  });
  const url = await listenOnLoopback(server);
  const docs: DocServer = {
    url,
    get inFlight() {
      return inFlight;
    },
    get peak() {
      return peak;
    },
    get arrived() {
      return arrived;
    },
    get asked() {
      return asked;
    },
    delayMs: 0,
    hold: undefined,
    reset() {
      peak = inFlight;
      arrived = 0;
      asked = new Set();
    },
    check,
    close() {
      closing = true;
      check();
      return closeServer(server);
    },
  };
  return docs;
}

/** One test's folder, server and runs, stopped when the test ends (its own `onTestFinished`: the tests run at once). */
interface Setup {
  readonly dir: string;
  /** `DIR/in.jsonl`, `DIR/out.jsonl`. */
  readonly input: string;
  readonly out: string;
  readonly docs: DocServer;
  /** Writes `n` tasks `{ n: i }` to the input (`crash` on the indexes given). */
  writeInput(n: number, crash?: readonly number[]): void;
  /** `sluice run JOB --input IN ARGS` with the server's URL and limit in the environment (plus `env`). */
  run(args: readonly string[], env?: Record<string, string>): Running;
}

async function setup({ onTestFinished }: TestContext): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-cli-lanes-'));
  const docs = await startDocServer();
  const started: Running[] = [];
  onTestFinished(async () => {
    for (const r of started) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await Promise.all(started.map((r) => r.exited));
    await docs.close();
    await rm(dir, { recursive: true, force: true });
  });
  const input = join(dir, 'in.jsonl');
  return {
    dir,
    input,
    out: join(dir, 'out.jsonl'),
    docs,
    writeInput(n, crash = []) {
      const records = Array.from({ length: n }, (_, i) => JSON.stringify(crash.includes(i) ? { n: i, crash: true } : { n: i }));
      writeFileSync(input, `${records.join('\n')}\n`);
    },
    run(args, env = {}) {
      const r = startBin(['run', JOB, '--input', input, ...args], {
        cwd: dir,
        env: { SLUICE_TEST_URL: docs.url, SLUICE_TEST_LIMIT: String(LIMIT), ...env },
      });
      started.push(r);
      return r;
    },
  };
}
afterAll(() => killLeftovers());

function outcomes(file: string): Line[] {
  return lines(file).map((l) => JSON.parse(l) as Line);
}

/** The output holds every index below `n` exactly once, each completed, and no partial line. */
function expectEachOnce(file: string, n: number): void {
  expect(readFileSync(file, 'utf8').endsWith('\n'), 'no partial last line').toBe(true);
  const all = outcomes(file);
  expect(all.every((o) => o.ok)).toBe(true);
  expect(all.map((o) => o.index).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
}

type Summary = Record<string, unknown> & { lanes?: { count: number; restarts: number } };

/** The `--log json` summary line. */
function summaryOf(r: Running): Summary {
  const line = r
    .stderr()
    .split('\n')
    .find((l) => l.startsWith('{"type":"summary"'));
  expect(line, r.stderr()).toBeDefined();
  return JSON.parse(line!) as Summary;
}

/** The output's lines with each value's `lane` (a thread id) left out, sorted. */
function withoutLanes(file: string): string[] {
  return lines(file)
    .map((l) => {
      const o = JSON.parse(l) as { value?: { lane?: number } };
      delete o.value?.lane;
      return JSON.stringify(o);
    })
    .sort();
}

/** Polls `condition` while `r` runs: false if it ended first (the limit only stops a hung test). */
async function whileRunning(what: string, r: Running, condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 3000; i++) {
    if (condition()) return true;
    if (r.child.exitCode !== null) return false;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}:\n${r.stderr()}`);
}

const JSON_LOG = ['--log', 'json', '--log-interval', '3600000'];

// The tests run two at a time (each describe's pair at once, the describes one after another): a
// run spends much of its time starting its lanes or waiting on the server, and a pair shares the
// cores without changing any count the tests assert.
describe('sluice run --lanes: a run', () => {
  it.concurrent('runs every task once within the shared limit, reaches it, and writes what --lanes 1 writes', async (t) => {
    const { dir, out, docs, writeInput, run } = await setup(t);
    const N = 120;
    writeInput(N);
    // Nothing is answered until LIMIT requests are in flight at once: the lanes together reach the limit.
    docs.hold = () => () => docs.peak >= LIMIT;
    const lanes = run(['--lanes', '2', '--output', out, ...JSON_LOG]);
    expect(await lanes.exited, lanes.stderr()).toBe(0);
    expectEachOnce(out, N);
    expect(docs.peak).toBe(LIMIT);
    expect(docs.asked.size).toBe(N);
    expect(summaryOf(lanes)).toMatchObject({ tasks: N, completed: N, failed: 0, lines: N, lanes: { count: 2, restarts: 0 } });

    docs.reset();
    docs.hold = undefined;
    const one = join(dir, 'one.jsonl');
    const single = run(['--lanes', '1', '--output', one, ...JSON_LOG]);
    expect(await single.exited, single.stderr()).toBe(0);
    expect(summaryOf(single)).not.toHaveProperty('lanes');
    expect(withoutLanes(out)).toEqual(withoutLanes(one));
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  });

  it.concurrent('--ordered writes the lines in input order though they complete out of order', async (t) => {
    const { out, docs, writeInput, run } = await setup(t);
    const N = 40;
    writeInput(N);
    // Document 0 is answered only after 10 others were asked for: task 0 completes late.
    docs.hold = (n) => (n === 0 ? () => docs.arrived >= 10 : undefined);
    const r = run(['--lanes', '2', '--ordered', '--output', out, '--log', 'none']);
    expect(await r.exited, r.stderr()).toBe(0);
    expect(outcomes(out).map((o) => o.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  });
});

describe('sluice run --lanes: kill -9 and SIGINT', () => {
  it.concurrent('kill -9 mid-run, twice, then --resume with lanes: every task exactly once', async (t) => {
    const { out, docs, writeInput, run } = await setup(t);
    const N = 600;
    writeInput(N);
    docs.delayMs = 10;
    let kills = 0;
    for (let i = 0; ; i++) {
      const r = run(['--lanes', '2', '--output', out, ...JSON_LOG, ...(i === 0 ? [] : ['--resume'])]);
      const from = lines(out).length;
      // Over a batch of lines past where this run started (so that it committed), then kill -9.
      if (kills < 2 && (await whileRunning('more lines', r, () => lines(out).length >= from + 100))) {
        r.child.kill('SIGKILL');
        expect(await r.exited).toBe(null);
        kills++;
        // The dead run's last requests are answered before the next run starts.
        for (let k = 0; k < 3000 && docs.inFlight > 0; k++) await sleep(10);
        continue;
      }
      expect(await r.exited, r.stderr()).toBe(0);
      expect(summaryOf(r)).toMatchObject({ resumed: true, failed: 0, lanes: { count: 2 } });
      break;
    }
    expect(kills).toBe(2);
    expectEachOnce(out, N);
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  }, 120_000);

  it.concurrent('on SIGINT drains every lane: what was fetched is written, exit 130, and a --resume runs the rest', async (t) => {
    const { out, docs, writeInput, run } = await setup(t);
    const N = 400;
    writeInput(N);
    docs.delayMs = 10;
    const r = run(['--lanes', '2', '--output', out, ...JSON_LOG]);
    await until('60 lines', () => lines(out).length >= 60, r);
    r.child.kill('SIGINT');
    expect(await r.exited, r.stderr()).toBe(130);
    expect(summaryOf(r)).toMatchObject({ interruptedBy: 'SIGINT', failed: 0 });
    expect(readFileSync(out, 'utf8').endsWith('\n'), 'no partial last line').toBe(true);
    const first = outcomes(out);
    const indexes = first.map((o) => o.index).sort((a, b) => a - b);
    expect(new Set(indexes).size).toBe(indexes.length);
    expect(indexes.length).toBeLessThan(N);
    // Every task a lane had started (asked the server for) finished and was written, and no other.
    expect([...docs.asked].sort((a, b) => a - b)).toEqual(indexes);
    expect(new Set(first.map((o) => o.value!.lane)).size).toBe(2); // both lanes ran tasks

    // The journal has them done and the run unfinished: the resume passes over them and runs the rest.
    const resumed = run(['--lanes', '2', '--output', out, ...JSON_LOG, '--resume']);
    expect(await resumed.exited, resumed.stderr()).toBe(0);
    expect(summaryOf(resumed)).toMatchObject({ resumed: true, skipped: indexes.length, completed: N - indexes.length });
    expectEachOnce(out, N);
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  }, 120_000);
});

describe('sluice run --lanes: a lane crash, and refusals', () => {
  it.concurrent('a lane that crashes mid-run is replaced; its tasks run again and the run completes', async (t) => {
    const { dir, out, docs, writeInput, run } = await setup(t);
    const N = 60;
    writeInput(N, [20]);
    const marker = join(dir, 'crashed');
    const r = run(['--lanes', '2', '--output', out, ...JSON_LOG], { SLUICE_TEST_CRASH_MARKER: marker });
    expect(await r.exited, r.stderr()).toBe(0);
    expect(existsSync(marker)).toBe(true); // it did crash, once
    expectEachOnce(out, N);
    expect(summaryOf(r)).toMatchObject({ completed: N, failed: 0, lanes: { count: 2, restarts: 1 } });
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  });

  it.concurrent('refuses a bad --io name (found by the lanes) and --lanes 0 with exit 2, before the output is touched', async (t) => {
    const { out, docs, writeInput, run } = await setup(t);
    writeInput(10);
    const before = '{"previous":"output"}\n';
    writeFileSync(out, before);
    // --restart: past the checks, the run would replace the file.
    const bad = run(['--lanes', '2', '--io', 'nosuch=3', '--output', out, '--restart', '--log', 'none']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toContain('Expected config `io.nosuch` (from flag --io) to be a name the job declares');
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(existsSync(`${out}.sluice`)).toBe(false);

    const zero = run(['--lanes', '0', '--output', out, '--restart', '--log', 'none']);
    expect(await zero.exited).toBe(2);
    expect(zero.stderr()).toContain('`lanes` (from flag --lanes)');
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(docs.arrived).toBe(0);
  });
});

describe('sluice run --lanes: settings and metrics', () => {
  it.concurrent('SLUICE_LANES=2 works as the flag does, and --lanes auto runs at least 2 lanes', async (t) => {
    const { dir, out, docs, writeInput, run } = await setup(t);
    const N = 30;
    writeInput(N);
    const env = run(['--output', out, ...JSON_LOG], { SLUICE_LANES: '2' });
    expect(await env.exited, env.stderr()).toBe(0);
    expectEachOnce(out, N);
    expect(summaryOf(env)).toMatchObject({ completed: N, lanes: { count: 2 } });

    const autoOut = join(dir, 'auto.jsonl');
    const auto = run(['--lanes', 'auto', '--output', autoOut, ...JSON_LOG]);
    expect(await auto.exited, auto.stderr()).toBe(0);
    expectEachOnce(autoOut, N);
    expect(summaryOf(auto).lanes!.count).toBeGreaterThanOrEqual(2);
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  });

  it.concurrent('--metrics-port 0: the service counters count the attempts made in the lanes', async (t) => {
    const { out, docs, writeInput, run } = await setup(t);
    const N = 40;
    const ANSWERED = 10;
    writeInput(N);
    // The first ANSWERED requests are answered; the others wait until the test has scraped.
    let scraped = false;
    docs.hold = (_n, k) => (k > ANSWERED ? () => scraped : undefined);
    const r = run(['--lanes', '2', '--output', out, '--log', 'none', '--metrics-port', '0']);
    await until('the metrics address', () => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(r.stderr()), r);
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(r.stderr())![1]!;
    const success = /^sluice_service_attempts_total\{service="docs",outcome="success"\} (\d+)$/m;
    const inFlight = /^sluice_service_in_flight\{service="docs"\} (\d+)$/m;
    const settled = (text: string): boolean => Number(success.exec(text)?.[1]) === ANSWERED && Number(inFlight.exec(text)?.[1]) === LIMIT;
    // The lanes report their attempts to the main thread in batches: scrape until all have come.
    let text = await (await fetch(url)).text();
    for (let i = 0; i < 1500 && !settled(text); i++) {
      await sleep(20);
      text = await (await fetch(url)).text();
    }
    expect(Number(success.exec(text)?.[1])).toBe(ANSWERED);
    expect(Number(inFlight.exec(text)?.[1])).toBe(LIMIT); // every permit is held, over both lanes
    expect(text).toMatch(/^sluice_lane_restarts_total 0$/m);
    scraped = true;
    docs.check();
    expect(await r.exited, r.stderr()).toBe(0);
    expectEachOnce(out, N);
    expect(docs.peak).toBeLessThanOrEqual(LIMIT);
  });
});
