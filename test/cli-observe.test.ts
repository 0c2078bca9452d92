import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createExecutor,
  ErrorCodes,
  io,
  SluiceOptionError,
  service,
  type BatchStats,
  type ExecutorStats,
  type LanesStats,
  type MainThreadStats,
  type Service,
  type ServiceStats,
} from '../src/index.js';
import {
  ceilingJsonLine,
  ceilingLine,
  createCeilingWatch,
  createLanesWatch,
  lanesJsonLine,
  lanesLine,
} from '../src/cli/observe/ceiling-warning.js';
import { createFigureTracker, figuresOf, type Figures } from '../src/cli/observe/figures.js';
import { formatDuration, formatRate } from '../src/cli/observe/format.js';
import { formatJsonLine } from '../src/cli/observe/json-log.js';
import { startMetrics, type MetricsServer } from '../src/cli/observe/metrics.js';
import { formatBar } from '../src/cli/observe/progress-bar.js';
import { createReporter, resolveLogMode } from '../src/cli/observe/reporter.js';
import type { RunSnapshot } from '../src/cli/observe/snapshot.js';
import { formatSummary, type RunSummary } from '../src/cli/run/summary.js';

function stats(
  o: {
    buffered?: number;
    cpuRunning?: number[];
    cpuCapacity?: number[];
    /** Each cpu stage's batch size B (its capacity is then threads × B); none: no batch stats. */
    cpuBatch?: number[];
    pulled?: number;
    open?: number;
    main?: MainThreadStats;
  } = {},
): ExecutorStats {
  const cpu = (o.cpuCapacity ?? []).map((capacity, i) => ({
    name: `cpu${i}`,
    kind: 'cpu' as const,
    capacity,
    active: o.cpuRunning?.[i] ?? 0,
    peakActive: capacity,
    peakCapacity: capacity,
    running: o.cpuRunning?.[i] ?? 0,
    peakRunning: capacity,
    completed: 10,
    failed: 1,
    ...(o.cpuBatch?.[i] !== undefined ? { batch: batchOf(capacity, o.cpuRunning?.[i] ?? 0, o.cpuBatch[i]!) } : {}),
  }));
  return {
    stages: [
      {
        name: 'fetch',
        kind: 'io',
        capacity: 16,
        active: 12,
        peakActive: 16,
        peakCapacity: 16,
        running: 9,
        peakRunning: 16,
        completed: 40,
        failed: 2,
      },
      ...cpu,
    ],
    buffers: [
      { name: 'fetch→cpu0', size: o.buffered ?? 0, peak: 8, bound: 8, peakBound: 8 },
      { name: 'output', size: 1, peak: 4, bound: 16, peakBound: 16 },
    ],
    buffered: { size: o.buffered ?? 0, peak: 8 },
    tasks: { pulled: o.pulled ?? 0, open: o.open ?? 0, peakOpen: 20, completed: 0, failed: 0 },
    mainThread: o.main ?? { utilization: 0.25, recentUtilization: 0.5 },
  };
}

/** A cpu stage's batch stats: its threads are `capacity / size`, the busy ones its running tasks over B, rounded up. */
function batchOf(capacity: number, running: number, size: number): BatchStats {
  const threads = Math.max(1, Math.round(capacity / size));
  return {
    threads,
    busyThreads: Math.min(threads, Math.ceil(running / size)),
    size,
    peak: size,
    batches: 7,
    onThreads: running,
    peakOnThreads: running,
    taskMs: 0.02,
    handoffMs: 0.1,
  };
}

function svcStats(name: string, limit: number, inFlight: number, queued: number): ServiceStats {
  const zero = { peakInFlight: inFlight, calls: 0, attempts: 0, successes: 0, dropped: 0, ignored: 0, retries: 0, failed: 0, pauses: 0 };
  return { name, limit, inFlight, queued, ...zero };
}

function snap(o: Partial<RunSnapshot> & { done: number }): RunSnapshot {
  return {
    elapsedMs: 1000,
    completed: o.done - (o.failed ?? 0),
    failed: 0,
    stats: stats(),
    services: [],
    draining: false,
    ...o,
  };
}

describe('figures', () => {
  it('takes the rate over the last 10 s of snapshots, and the ETA from it', () => {
    let t = 0;
    const track = createFigureTracker({ now: () => t, windowMs: 10_000 });
    let f: Figures | undefined;
    // 100 tasks/s for 10 s, then 10 tasks/s for 10 s, a snapshot every second.
    for (let s = 0; s <= 20; s++) {
      t = s * 1000;
      const done = s <= 10 ? s * 100 : 1000 + (s - 10) * 10;
      f = track(snap({ elapsedMs: t, done, total: 2000 }));
      if (s === 10) expect(f.rate).toBe(100);
    }
    expect(f!.rate).toBe(10); // not the 55/s since the start
    expect(f!.etaMs).toBe(90_000); // 900 left at 10/s
    expect(f!.percent).toBe(55);
  });

  it('uses the rate since the start until a second snapshot', () => {
    const track = createFigureTracker({ now: () => 5 });
    expect(track(snap({ elapsedMs: 2000, done: 50 })).rate).toBe(25);
    expect(createFigureTracker({ now: () => 5 })(snap({ elapsedMs: 0, done: 0 })).rate).toBe(0);
  });

  it('has no ETA nor percent without a total, nor an ETA at rate 0; ETA 0 when all is done', () => {
    const unknown = figuresOf(snap({ done: 10 }), 5);
    expect(unknown.total).toBeUndefined();
    expect(unknown.percent).toBeUndefined();
    expect(unknown.etaMs).toBeUndefined();
    expect(figuresOf(snap({ done: 10, total: 20 }), 0).etaMs).toBeUndefined();
    const done = figuresOf(snap({ done: 20, total: 20 }), 0);
    expect(done.etaMs).toBe(0);
    expect(done.percent).toBe(100);
    expect(figuresOf(snap({ done: 199, total: 200 }), 1).percent).toBe(99);
  });

  it('sums busy threads over the cpu stages only', () => {
    const f = figuresOf(snap({ done: 0, stats: stats({ cpuCapacity: [2, 4], cpuRunning: [1, 3], buffered: 7 }) }), 0);
    expect(f.busyThreads).toBe(4);
    expect(f.threads).toBe(6);
    expect(f.buffered).toBe(7);
  });

  it("takes a batching stage's threads and busy threads from its batch stats", () => {
    const f = figuresOf(snap({ done: 0, stats: stats({ cpuCapacity: [128, 3], cpuRunning: [70, 2], cpuBatch: [64] }) }), 0);
    expect(f.threads).toBe(5); // 128 / 64 + 3
    expect(f.busyThreads).toBe(4); // ceil(70 / 64) + 2
    expect(f.batches).toEqual([{ name: 'cpu0', size: 64 }]);
    const unbatched = figuresOf(snap({ done: 0, stats: stats({ cpuCapacity: [2], cpuRunning: [2], cpuBatch: [1] }) }), 0);
    expect([unbatched.threads, unbatched.busyThreads]).toEqual([2, 2]);
    expect(unbatched.batches).toEqual([{ name: 'cpu0', size: 1 }]);
    const main = figuresOf(snap({ done: 0, stats: stats({ main: { utilization: 0.3, recentUtilization: 0.95 } }) }), 0);
    expect(main.mainThread).toEqual({ utilization: 0.3, recentUtilization: 0.95 });
  });

  it('formats rates and durations', () => {
    const rates: [number, string][] = [
      [0, '0/s'],
      [3.44, '3.4/s'],
      [4, '4/s'],
      [240.4, '240/s'],
      [12_345, '12.3k/s'],
      [250_400, '250k/s'],
      [2_500_000, '2.5M/s'],
    ];
    for (const [v, s] of rates) expect(formatRate(v)).toBe(s);
    const times: [number, string][] = [
      [0, '0s'],
      [1, '1s'],
      [24_000, '24s'],
      [192_000, '3m12s'],
      [3_720_000, '1h02m'],
      [183_600_000, '2d03h'],
    ];
    for (const [v, s] of times) expect(formatDuration(v)).toBe(s);
  });
});

describe('json reporter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('emits one line per tick with the figures, and a final line on stop', async () => {
    let t = 0;
    let current = snap({ elapsedMs: 0, done: 0, total: 100 });
    const lines: string[] = [];
    const r = await createReporter('json', { snapshot: () => current, intervalMs: 1000, write: (l) => lines.push(l), now: () => t });
    r.tick();
    t = 1000;
    current = snap({
      elapsedMs: 1000,
      done: 40,
      failed: 1,
      total: 100,
      stats: stats({
        buffered: 5,
        cpuCapacity: [128],
        cpuRunning: [100],
        cpuBatch: [64],
        main: { utilization: 0.41234, recentUtilization: 0.5678 },
      }),
      services: [svcStats('docs', 16, 16, 3)],
    });
    r.tick();
    t = 2000;
    current = snap({ ...current, elapsedMs: 2000, done: 60, draining: true });
    r.tick();
    r.stop();
    r.stop();
    r.tick();
    expect(lines).toHaveLength(4);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ type: 'progress', done: 0, total: 100, rate: 0, draining: false });
    expect(parsed[0]).not.toHaveProperty('etaMs');
    expect(parsed[1]).toEqual({
      type: 'progress',
      elapsedMs: 1000,
      done: 40,
      total: 100,
      percent: 40,
      completed: 39,
      failed: 1,
      rate: 40,
      etaMs: 1500,
      buffered: 5,
      busyThreads: 2,
      threads: 2,
      draining: false,
      mainThread: { utilization: 0.412, recentUtilization: 0.568 },
      batch: { cpu0: 64 },
      services: { docs: { limit: 16, inFlight: 16, queued: 3 } },
    });
    expect(parsed[2]).toMatchObject({ done: 60, rate: 30, draining: true });
    expect(parsed[2]).not.toHaveProperty('final');
    expect(parsed[3]).toMatchObject({ done: 60, final: true });
  });

  it('leaves total, percent and etaMs out when the total is unknown', () => {
    const line = JSON.parse(formatJsonLine(figuresOf(snap({ done: 3 }), 1.234))) as Record<string, unknown>;
    expect(line).not.toHaveProperty('total');
    expect(line).not.toHaveProperty('percent');
    expect(line).not.toHaveProperty('etaMs');
    expect(line).not.toHaveProperty('batch'); // no cpu stage reports one
    expect(line.mainThread).toEqual({ utilization: 0.25, recentUtilization: 0.5 });
    expect(line.rate).toBe(1.23);
  });

  it('ticks on an unref-ed interval once started', async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const r = await createReporter('json', { snapshot: () => snap({ done: 1 }), intervalMs: 500, write: (l) => lines.push(l) });
    r.start();
    r.start();
    vi.advanceTimersByTime(1500);
    expect(lines).toHaveLength(3);
    r.stop();
    vi.advanceTimersByTime(1500);
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[3]!)).toMatchObject({ final: true });
  });

  it("writes to the stream by default; mode 'none' writes nothing", async () => {
    const { stream, chunks } = fakeTty(100);
    const json = await createReporter('json', { snapshot: () => snap({ done: 2 }), intervalMs: 1000, stream });
    json.tick();
    expect(chunks.join('')).toMatch(/^\{"type":"progress".*\}\n$/);

    const quiet = fakeTty(100);
    const write = vi.fn();
    const none = await createReporter('none', { snapshot: () => snap({ done: 2 }), intervalMs: 1000, stream: quiet.stream, write });
    none.start();
    none.tick();
    none.stop();
    expect(quiet.chunks).toEqual([]);
    expect(write).not.toHaveBeenCalled();
  });

  it('rejects a bad mode or interval with an option error', async () => {
    const bad = [
      () => createReporter('fancy' as 'bar', { snapshot: () => snap({ done: 0 }), intervalMs: 1000 }),
      () => createReporter('json', { snapshot: () => snap({ done: 0 }), intervalMs: 0 }),
      () => createReporter('json', { snapshot: 'x' as unknown as () => RunSnapshot, intervalMs: 10 }),
    ];
    for (const f of bad) await expect(f()).rejects.toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    await expect(bad[0]!()).rejects.toThrow(SluiceOptionError);
    expect(resolveLogMode('auto', { isTTY: true })).toBe('bar');
    expect(resolveLogMode('auto', {})).toBe('json');
    expect(resolveLogMode('none', { isTTY: true })).toBe('none');
  });
});

/**
 * The rows a terminal shows after `output`: text, newlines, and the CSI sequences log-update
 * writes (cursor up/down, to column 1, erase line, erase to end of line); private modes ignored.
 */
function screen(output: string): string[] {
  const rows: string[] = [''];
  let row = 0;
  let col = 0;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape sequences are what this parses
  for (const m of output.matchAll(/\x1b\[(\??)(\d*)([A-Za-z])|\n|[^\x1b\n]+/g)) {
    const token = m[0];
    if (token === '\n') {
      row += 1;
      col = 0;
      rows[row] ??= '';
    } else if (token.startsWith('\x1b')) {
      const [, priv, num, cmd] = m;
      const n = num === '' ? 1 : Number(num);
      if (priv === '?') continue;
      if (cmd === 'A') row = Math.max(0, row - n);
      else if (cmd === 'B') for (let i = 0; i < n; i++) rows[++row] ??= '';
      else if (cmd === 'G') col = n - 1;
      else if (cmd === 'K') rows[row] = num === '2' ? '' : rows[row]!.slice(0, col);
    } else {
      const line = rows[row]!.padEnd(col);
      rows[row] = line.slice(0, col) + token + line.slice(col + token.length);
      col += token.length;
    }
  }
  return rows;
}

function fakeTty(columns: number): { stream: Writable & { isTTY: boolean; columns: number }; chunks: string[] } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(String(chunk));
        callback();
      },
    }),
    { isTTY: true, columns },
  );
  return { stream, chunks };
}

describe('bar reporter', () => {
  const busy = (o: Partial<RunSnapshot> = {}): RunSnapshot =>
    snap({
      elapsedMs: 17_500,
      done: 4210,
      failed: 1,
      total: 10_000,
      stats: stats({ buffered: 5, cpuCapacity: [2], cpuRunning: [2] }),
      services: [svcStats('docs', 16, 16, 3), svcStats('store', 8, 4, 0)],
      ...o,
    });

  it('draws done/total, the service limits and the buffered payloads, within the columns', async () => {
    const { stream, chunks } = fakeTty(100);
    let t = 0;
    let current = busy({ done: 4000 });
    const r = await createReporter('bar', { snapshot: () => current, intervalMs: 1000, stream, now: () => t });
    r.tick();
    t = 1000;
    current = busy();
    r.tick();
    const text = stripVTControlCharacters(chunks.join(''));
    expect(text).toContain('4210/10000 42%');
    expect(text).toContain('210/s');
    expect(text).toContain('docs 16/16 q3');
    expect(text).toContain('store 4/8');
    expect(text).toContain('buf 5');
    expect(text).toContain('cpu 2/2');
    expect(text).toContain('main 50%'); // live: the last few seconds
    expect(text).not.toContain('batch');
    expect(text).toContain('failed 1');
    expect(text).not.toContain('draining');
    current = busy({ draining: true });
    const before = chunks.length;
    r.stop();
    const last = stripVTControlCharacters(chunks.slice(before).join(''));
    expect(last).toContain('draining');
    expect(last).toContain('main 25%'); // final: the whole run
    expect(last.endsWith('\n')).toBe(true);
    for (const line of stripVTControlCharacters(chunks.join('')).split('\n')) expect(line.length).toBeLessThan(100);
    const after = chunks.length;
    r.tick();
    expect(chunks.length).toBe(after);
  });

  it('writes notes above the live bar, where later frames do not erase them', async () => {
    const { stream, chunks } = fakeTty(120);
    let current = busy({ done: 4000 });
    const r = await createReporter('bar', { snapshot: () => current, intervalMs: 1000, stream });
    r.start();
    r.tick();
    r.note('sluice: skipped input record t.jsonl:3: expected a JSON value');
    current = busy({ done: 4100 });
    r.tick();
    r.note('sluice: SIGINT: no new tasks');
    current = busy();
    r.tick();
    r.stop();
    r.note('after the bar');
    const rows = screen(chunks.join('')).filter((row) => row.length > 0);
    expect(rows).toEqual([
      'sluice: skipped input record t.jsonl:3: expected a JSON value',
      'sluice: SIGINT: no new tasks',
      expect.stringContaining('4210/10000 42%'),
      'after the bar',
    ]);
  });

  it('writes notes as plain lines in the json and none modes', async () => {
    for (const mode of ['json', 'none'] as const) {
      const lines: string[] = [];
      const r = await createReporter(mode, { snapshot: () => snap({ done: 1 }), intervalMs: 1000, write: (l) => lines.push(l) });
      r.note('a note');
      expect(lines).toEqual(['a note']);
    }
  });

  it('renders the one-line form when it fits', () => {
    const f = figuresOf(busy(), 240);
    expect(formatBar(f, 130)).toBe(
      '[########............] 4210/10000 42% 240/s ETA 25s │ docs 16/16 q3 │ store 4/8 │ buf 5 │ cpu 2/2 │ main 50% │ failed 1',
    );
    expect(formatBar(f, 130, true)).toContain('4210/10000 42% 240/s in 18s');
    expect(formatBar(figuresOf(busy({ total: undefined }), 240), 130)).toBe(
      '4210 done 240/s │ docs 16/16 q3 │ store 4/8 │ buf 5 │ cpu 2/2 │ main 50% │ failed 1',
    );
    const batching = busy({ stats: stats({ buffered: 5, cpuCapacity: [128, 2], cpuRunning: [128, 0], cpuBatch: [64, 1] }) });
    expect(formatBar(figuresOf(batching, 240), 140)).toContain('│ cpu 2/4 │ batch 64 │ main 50% │');
  });

  it('keeps a saturated main thread on a narrow line longer than the cpu and buffered figures', () => {
    const saturated = busy({
      stats: stats({ buffered: 5, cpuCapacity: [2], cpuRunning: [2], main: { utilization: 0.9, recentUtilization: 0.96 } }),
    });
    const line = formatBar(figuresOf(saturated, 240), 52).split('\n')[0]!;
    expect(line).toContain('main 96%');
    expect(line).not.toContain('cpu 2/2');
    expect(line).not.toContain('buf 5');
    expect(formatBar(figuresOf(busy(), 240), 52).split('\n')[0]).not.toContain('main');
  });

  it('moves services to a second line, then drops figures, to fit narrow terminals', () => {
    const many = busy({ draining: true, services: ['docs', 'store', 'search', 'thumbs', 'geo'].map((n) => svcStats(n, 16, 8, 2)) });
    for (const columns of [30, 40, 60, 80, 100]) {
      const out = formatBar(figuresOf(many, 240), columns);
      const lines = out.split('\n');
      expect(lines.length).toBeLessThanOrEqual(2);
      for (const line of lines) expect(line.length).toBeLessThan(columns);
      expect(lines[0]).toContain('4210/10000');
      if (columns >= 60) expect(lines[0]).toContain('draining');
    }
    expect(formatBar(figuresOf(many, 240), 60).split('\n')[1]).toMatch(/^docs 8\/16 q2 │ .* │ \+\d$/);
  });
});

describe('the ceiling warning', () => {
  const at = (elapsedMs: number, recentUtilization: number) => ({ elapsedMs, mainThread: { utilization: 0.8, recentUtilization } });

  it('fires once when the main thread stays >= 90% busy for 15 s over at least 3 checks in a row', () => {
    const watch = createCeilingWatch();
    const fired: number[] = [];
    for (let t = 0; t <= 60_000; t += 1000) if (watch(at(t, 0.95)) !== undefined) fired.push(t);
    expect(fired).toEqual([15_000]);
  });

  it('needs 3 checks even when they are far apart, and starts again after a check below', () => {
    const sparse = createCeilingWatch();
    expect(sparse(at(0, 0.99))).toBeUndefined();
    expect(sparse(at(30_000, 0.99))).toBeUndefined(); // 30 s, but only 2 checks
    expect(sparse(at(60_000, 0.99))).toMatchObject({ elapsedMs: 60_000, forMs: 60_000, recentUtilization: 0.99 });

    // Spikes: 14 s saturated, one check below, 14 s again: never 15 s in a row.
    const spiky = createCeilingWatch();
    let t = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 15; i++, t += 1000) expect(spiky(at(t, 1))).toBeUndefined();
      expect(spiky(at(t, 0.5))).toBeUndefined();
      t += 1000;
    }
    // Just below the threshold, for a long time: never.
    const below = createCeilingWatch();
    for (let t2 = 0; t2 <= 120_000; t2 += 1000) expect(below(at(t2, 0.899))).toBeUndefined();
  });

  it('takes its thresholds as options and rejects bad ones', () => {
    const quick = createCeilingWatch({ utilization: 0.5, forMs: 0, checks: 2 });
    expect(quick(at(0, 0.5))).toBeUndefined();
    expect(quick(at(1, 0.5))).toMatchObject({ threshold: 0.5, forMs: 1 });
    expect(quick(at(2, 0.5))).toBeUndefined();
    for (const bad of [{ utilization: 0 }, { utilization: 1.5 }, { forMs: -1 }, { checks: 0 }, { checks: 1.5 }]) {
      expect(() => createCeilingWatch(bad)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    }
  });

  it('says what it means, as a line and as a JSON event', () => {
    const alarm = { elapsedMs: 20_400.4, forMs: 15_000, threshold: 0.9, utilization: 0.81234, recentUtilization: 0.964 };
    expect(ceilingLine(alarm)).toBe(
      'sluice: warning: the main thread has been at least 90% busy for 15 s (96% over the last few seconds): ' +
        'it runs every io stage and the payload handling, and it is the bottleneck, so more --threads will not help; ' +
        'move parsing and payload handling into a cpu stage, or run more processes (sluice worker)',
    );
    expect(JSON.parse(ceilingJsonLine(alarm))).toEqual({
      type: 'warning',
      warning: 'main-thread-ceiling',
      elapsedMs: 20_400,
      forMs: 15_000,
      mainThread: { utilization: 0.812, recentUtilization: 0.964 },
      message: ceilingLine(alarm).slice('sluice: warning: '.length),
    });
  });

  it('is written once per run by every reporter mode, after the tick that crosses the line', async () => {
    const saturated = (elapsedMs: number): RunSnapshot =>
      snap({ elapsedMs, done: 1, stats: stats({ main: { utilization: 0.9, recentUtilization: 0.97 } }) });
    for (const mode of ['json', 'none', 'bar'] as const) {
      let t = 0;
      const lines: string[] = [];
      const { stream, chunks } = fakeTty(400);
      const r = await createReporter(mode, { snapshot: () => saturated(t), intervalMs: 1000, stream, write: (l) => lines.push(l) });
      for (; t <= 40_000; t += 1000) r.tick();
      r.stop();
      const out = mode === 'bar' ? stripVTControlCharacters(chunks.join('')).split('\n') : lines;
      const warnings = out.filter((l) => l.includes('main-thread-ceiling') || l.startsWith('sluice: warning:'));
      expect([mode, warnings.length]).toEqual([mode, 1]);
      if (mode === 'json') {
        expect(JSON.parse(warnings[0]!)).toMatchObject({ type: 'warning', elapsedMs: 15_000, forMs: 15_000 });
        // Right after the progress line of the 16th tick, and every other line is a progress line.
        expect(lines.indexOf(warnings[0]!)).toBe(16);
        expect(lines.filter((l) => JSON.parse(l).type === 'progress')).toHaveLength(lines.length - 1);
      } else expect(warnings[0]).toMatch(/^sluice: warning: the main thread has been at least 90% busy for 15 s \(97%/);
    }
  });

  it('stays quiet when the main thread is not saturated, or when turned off', async () => {
    for (const mode of ['json', 'none', 'bar'] as const) {
      let t = 0;
      let recent = 0.5;
      const lines: string[] = [];
      const { stream, chunks } = fakeTty(400);
      const snapshot = (): RunSnapshot =>
        snap({ elapsedMs: t, done: 1, stats: stats({ main: { utilization: 0.6, recentUtilization: recent } }) });
      const r = await createReporter(mode, { snapshot, intervalMs: 1000, stream, write: (l) => lines.push(l) });
      const off = await createReporter(mode, { snapshot, intervalMs: 1000, stream, write: (l) => lines.push(l), ceiling: false });
      for (; t <= 60_000; t += 1000) {
        recent = t % 10_000 === 0 ? 0.5 : 0.99; // saturated 9 s out of 10
        r.tick();
      }
      recent = 1;
      for (; t <= 120_000; t += 1000) off.tick();
      r.stop();
      off.stop();
      const text = lines.join('\n') + stripVTControlCharacters(chunks.join(''));
      expect([mode, text.includes('warning')]).toEqual([mode, false]);
    }
  });

  it("warns from a real run's stats when an io stage keeps the main thread busy, and not when it waits", async () => {
    const spin = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // burn the main thread, as payload handling does
      }
    };
    const runWith = async (work: () => Promise<void>): Promise<{ lines: string[]; main: MainThreadStats }> => {
      const ex = createExecutor<number, number>({
        stages: [
          io<number, number>(
            'handle',
            async (n) => {
              await work();
              return n;
            },
            { concurrency: 1 },
          ),
        ],
      });
      const started = performance.now();
      const lines: string[] = [];
      const r = await createReporter('json', {
        snapshot: () => snap({ elapsedMs: performance.now() - started, done: 0, stats: ex.stats() }),
        intervalMs: 40,
        write: (l) => lines.push(l),
        ceiling: { forMs: 200, checks: 3 },
      });
      r.start();
      let done = 0;
      for await (const o of ex.run(Array.from({ length: 40 }, (_, i) => i))) if (o.ok) done += 1;
      r.stop();
      expect(done).toBe(40);
      return { lines, main: ex.stats().mainThread };
    };
    // 40 tasks of 15 ms of main-thread work, each yielding to the event loop after it.
    const busy = await runWith(async () => {
      spin(15);
      await new Promise((resolve) => setImmediate(resolve));
    });
    const warnings = busy.lines.filter((l) => JSON.parse(l).type === 'warning');
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!).mainThread.recentUtilization).toBeGreaterThanOrEqual(0.9);
    expect(busy.main.utilization).toBeGreaterThanOrEqual(0.9);
    // The same number of tasks waiting 10 ms each on a timer: the main thread idles.
    const idle = await runWith(() => new Promise((resolve) => setTimeout(resolve, 10)));
    expect(idle.lines.filter((l) => JSON.parse(l).type === 'warning')).toEqual([]);
    expect(idle.main.utilization).toBeLessThan(0.9);
    expect(idle.lines.filter((l) => JSON.parse(l).type === 'progress').length).toBeGreaterThan(3);
  });
});

/** `name{labels} value` lines of a Prometheus text exposition. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function metricOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const hit = samples(text).find(
    (s) =>
      s.name === name &&
      Object.keys(labels).length === Object.keys(s.labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value;
}

function refused(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('metrics', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves gauges, counters and the attempt histogram of a real service on 127.0.0.1', async () => {
    const docs = service('docs', { limit: 4, retry: 1 });
    let unsubscribed = 0;
    const watched: Service = {
      name: docs.name,
      limit: docs.limit,
      call: (attempt, options) => docs.call(attempt, options),
      stats: () => docs.stats(),
      observe: (listener) => {
        const off = docs.observe(listener);
        return () => {
          unsubscribed += 1;
          off();
        };
      },
    };
    let snapshots = 0;
    server = await startMetrics({
      port: 0,
      services: [watched],
      snapshot: () => {
        snapshots += 1;
        return snap({
          done: 4,
          failed: 1,
          total: 10,
          stats: stats({
            buffered: 3,
            cpuCapacity: [128],
            cpuRunning: [1],
            cpuBatch: [64],
            pulled: 6,
            open: 2,
            main: { utilization: 0.42, recentUtilization: 0.97 },
          }),
          services: [docs.stats()],
        });
      },
    });
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);

    for (let i = 0; i < 3; i++) await expect(docs.call(() => i)).resolves.toBe(i);
    const reset = Object.assign(new Error('x'), { code: 'ECONNRESET' });
    await expect(
      docs.call(() => {
        throw reset;
      }),
    ).rejects.toBe(reset);
    for (const outcome of [{ ok: true }, { ok: true }, { ok: true }, { ok: false, stage: 'fetch' }]) server.recordOutcome(outcome);

    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    const text = await res.text();
    expect(snapshots).toBe(1); // every gauge of one scrape reads the same snapshot
    const p = 'sluice_';
    const docsL = { service: 'docs' };
    const expected: [string, Record<string, string>, number][] = [
      ['service_limit', docsL, 4],
      ['service_in_flight', docsL, 0],
      ['service_queued', docsL, 0],
      ['service_calls_total', docsL, 4],
      ['service_retries_total', docsL, 0],
      ['service_failed_calls_total', docsL, 1],
      ['service_retry_after_pauses_total', docsL, 0],
      ['service_attempts_total', { ...docsL, outcome: 'success' }, 3],
      ['service_attempts_total', { ...docsL, outcome: 'dropped' }, 1],
      ['service_attempts_total', { ...docsL, outcome: 'ignore' }, 0],
      ['service_attempt_duration_seconds_count', { ...docsL, outcome: 'success' }, 3],
      ['service_attempt_duration_seconds_count', { ...docsL, outcome: 'dropped' }, 1],
      ['service_attempt_duration_seconds_bucket', { ...docsL, outcome: 'success', le: '30' }, 3],
      ['service_attempt_duration_seconds_bucket', { ...docsL, outcome: 'success', le: '+Inf' }, 3],
      ['outcomes_total', { result: 'completed' }, 3],
      ['outcomes_total', { result: 'failed', stage: 'fetch' }, 1],
      ['stage_capacity', { stage: 'cpu0', kind: 'cpu' }, 128],
      ['stage_batch_size', { stage: 'cpu0', kind: 'cpu' }, 64],
      ['stage_batches_total', { stage: 'cpu0', kind: 'cpu' }, 7],
      ['main_thread_utilization', {}, 0.42],
      ['main_thread_recent_utilization', {}, 0.97],
      ['stage_running', { stage: 'cpu0', kind: 'cpu' }, 1],
      ['stage_active', { stage: 'fetch', kind: 'io' }, 12],
      ['stage_tasks_total', { stage: 'fetch', kind: 'io', result: 'failed' }, 2],
      ['buffer_size', { buffer: 'fetch→cpu0' }, 3],
      ['buffer_bound', { buffer: 'output' }, 16],
      ['buffered_payloads', {}, 3],
      ['tasks_pulled_total', {}, 6],
      ['tasks_open', {}, 2],
      ['draining', {}, 0],
      ['input_tasks', {}, 10],
    ];
    for (const [name, labels, value] of expected) expect([name, labels, metricOf(text, p + name, labels)]).toEqual([name, labels, value]);
    expect(text).toContain('# TYPE sluice_service_attempts_total counter');
    expect(text).toContain('# TYPE sluice_service_limit gauge');
    expect(metricOf(text, `${p}stage_batch_size`, { stage: 'fetch', kind: 'io' })).toBeUndefined(); // cpu stages only
    expect(text).toMatch(/^# HELP sluice_main_thread_utilization The main thread's event-loop utilisation over the run/m);
    expect(text).toMatch(/^# HELP sluice_main_thread_recent_utilization .*bottleneck, and more threads will not help\.$/m);
    expect(text).toContain('# TYPE sluice_main_thread_recent_utilization gauge');
    expect(metricOf(text, `${p}process_resident_memory_bytes`)).toBeGreaterThan(0);

    // Counters follow the stats without counting twice.
    await docs.call(() => 'again');
    const again = await (await fetch(server.url)).text();
    expect(snapshots).toBe(2);
    expect(metricOf(again, `${p}service_attempts_total`, { service: 'docs', outcome: 'success' })).toBe(4);
    expect(metricOf(again, `${p}service_calls_total`, { service: 'docs' })).toBe(5);
    expect(metricOf(again, `${p}service_attempt_duration_seconds_count`, { service: 'docs', outcome: 'success' })).toBe(4);
    expect(metricOf(again, `${p}outcomes_total`, { result: 'completed' })).toBe(3);

    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/metricsx`)).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
    expect(await refused(server.port, '::1')).toBe(true); // loopback IPv4 only, not every interface

    const port = server.port;
    const closing = server.close();
    expect(server.close()).toBe(closing);
    await closing;
    expect(unsubscribed).toBe(1);
    expect(await refused(port, '127.0.0.1')).toBe(true);
  });

  it('leaves input_tasks out when the total is unknown, and takes a prefix', async () => {
    server = await startMetrics({ port: 0, services: [], prefix: 'job_', snapshot: () => snap({ done: 0, draining: true }) });
    const text = await (await fetch(server.url)).text();
    expect(metricOf(text, 'job_input_tasks')).toBeUndefined();
    expect(metricOf(text, 'job_draining')).toBe(1);
    expect(text).not.toContain('sluice_');
  });

  it('rejects a bad port or prefix with an option error', async () => {
    for (const options of [
      { port: -1, services: [], snapshot: () => snap({ done: 0 }) },
      { port: 1.5, services: [], snapshot: () => snap({ done: 0 }) },
      { port: 0, services: [], prefix: 'bad-prefix', snapshot: () => snap({ done: 0 }) },
    ]) {
      await expect(startMetrics(options)).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTION });
    }
  });
});

/** A run in lanes: each lane's `recentUtilization` (and over the run: `overall`), the dispatch's figures. */
function lanesOf(recent: readonly number[], overall: readonly number[] = recent.map(() => 0.3), o: Partial<LanesStats> = {}): LanesStats {
  return {
    lanes: recent.map((recentUtilization, lane) => ({
      lane,
      utilization: overall[lane]!,
      recentUtilization,
      held: 20,
      peakHeld: 24,
      completed: 100 + lane,
      failed: lane,
    })),
    capacity: 64,
    peakCapacity: 64,
    queued: 3,
    held: 40,
    peakHeld: 48,
    batches: 12,
    restarts: 1,
    ...o,
  };
}

/** The bar tests' busy snapshot, its run in lanes. */
function inLanes(recent: readonly number[], overall?: readonly number[], main?: MainThreadStats): RunSnapshot {
  return snap({
    elapsedMs: 17_500,
    done: 4210,
    failed: 1,
    total: 10_000,
    stats: { ...stats({ buffered: 5, cpuCapacity: [2], cpuRunning: [2], ...(main ? { main } : {}) }), lanes: lanesOf(recent, overall) },
    services: [svcStats('docs', 16, 16, 3), svcStats('store', 8, 4, 0)],
  });
}

describe('lanes in the figures, the bar, the JSON log and the summary', () => {
  it('figures carry the lanes only when the stats have them', () => {
    const f = figuresOf(inLanes([0.45, 0.51], [0.3, 0.35]), 240);
    expect(f.lanes).toEqual({ count: 2, queued: 3, held: 40, peakHeld: 48, restarts: 1, busy: [0.45, 0.51], utilization: [0.3, 0.35] });
    expect(figuresOf(snap({ done: 1 }), 1)).not.toHaveProperty('lanes');
  });

  it("shows the lanes and each one's utilisation next to main: the last few seconds live, the run on the final line", () => {
    const f = figuresOf(inLanes([0.45, 0.51], [0.3, 0.35]), 240);
    expect(formatBar(f, 160)).toBe(
      '[########............] 4210/10000 42% 240/s ETA 25s │ docs 16/16 q3 │ store 4/8 │ buf 5 │ cpu 2/2 │ lanes 2 (busy 45% 51%) │ main 50% │ failed 1',
    );
    expect(formatBar(f, 160, true)).toContain('│ lanes 2 (busy 30% 35%) │ main 25% │');
    // More than 8 lanes: the range, least to most busy.
    const twelve = Array.from({ length: 12 }, (_, i) => 0.1 + i * 0.05);
    expect(formatBar(figuresOf(inLanes(twelve), 240), 160)).toContain('│ lanes 12 (busy 10%-65%) │ main 50% │');
    const none = { ...inLanes([]) };
    expect(formatBar(figuresOf(none, 240), 160)).toContain('│ lanes 0 │ main 50% │');
  });

  it('keeps saturated lanes on a narrow line longer than cpu, buffered and main; drops idle ones before buffered', () => {
    const saturated = formatBar(figuresOf(inLanes([0.95, 0.97]), 240), 64).split('\n')[0]!;
    expect(saturated).toContain('lanes 2 (busy 95% 97%)');
    expect(saturated).not.toContain('cpu 2/2');
    expect(saturated).not.toContain('main 50%');
    const idle = formatBar(figuresOf(inLanes([0.45, 0.51]), 240), 64).split('\n')[0]!;
    expect(idle).not.toContain('lanes');
    expect(idle).toContain('buf 5');
  });

  it('adds a lanes object to the JSON progress line, after mainThread, rounded like the other figures', () => {
    const line = JSON.parse(formatJsonLine(figuresOf(inLanes([0.45234, 0.5099]), 240))) as Record<string, unknown>;
    expect(line.lanes).toEqual({ count: 2, queued: 3, held: 40, peakHeld: 48, restarts: 1, busy: [0.452, 0.51] });
    const keys = Object.keys(line);
    expect(keys[keys.indexOf('mainThread') + 1]).toBe('lanes');
  });

  const summaryOf = (lanes?: LanesStats): RunSummary => ({
    job: 'j',
    elapsedMs: 2000,
    completed: 40,
    failed: 0,
    rejected: 0,
    interrupted: 0,
    stats: { ...stats({ pulled: 40, main: { utilization: 0.1234, recentUtilization: 0.2 } }), ...(lanes ? { lanes } : {}) },
    output: 'out.jsonl',
    lines: 40,
    peakRssBytes: 2 ** 20,
  });

  it('puts the lanes, their restarts and their utilisation over the run in both forms of the summary', () => {
    const lanes = lanesOf([0.9, 0.9], [0.8042, 0.7766]);
    const [human] = formatSummary(summaryOf(lanes), false);
    expect(human).toBe(
      'sluice: j: 40 completed, 0 failed in 2.0 s (20.0 tasks/s); main thread 12% busy; lanes 2 (busy 80% 78%), 1 restart; ' +
        'peak buffered payloads 8; peak RSS 1 MiB; 40 lines written to out.jsonl',
    );
    expect(formatSummary(summaryOf({ ...lanes, restarts: 0 }), false)[0]).toContain('; lanes 2 (busy 80% 78%), 0 restarts; peak');
    const json = JSON.parse(formatSummary(summaryOf(lanes), true)[0]!) as Record<string, unknown>;
    expect(json.lanes).toEqual({ count: 2, restarts: 1, utilization: [0.804, 0.777] });
    const keys = Object.keys(json);
    expect(keys[keys.indexOf('mainThreadUtilization') + 1]).toBe('lanes');
    // Without lanes: no trace of them.
    expect(formatSummary(summaryOf(), false)[0]).not.toContain('lanes');
    expect(JSON.parse(formatSummary(summaryOf(), true)[0]!)).not.toHaveProperty('lanes');
  });
});

describe('the ceiling warnings in lanes', () => {
  const at = (elapsedMs: number, main: number, busy?: readonly number[]) => ({
    elapsedMs,
    mainThread: { utilization: 0.8, recentUtilization: main },
    ...(busy ? { lanes: lanesOf(busy) } : {}),
  });

  it('says the dispatcher is saturated when the main thread of a run in lanes is', () => {
    const watch = createCeilingWatch();
    const fired: number[] = [];
    for (let t = 0; t <= 40_000; t += 1000) {
      const alarm = watch(at(t, 0.96, [0.2, 0.3]));
      if (alarm !== undefined) {
        fired.push(t);
        expect(alarm).toMatchObject({ lanes: 2, forMs: 15_000, recentUtilization: 0.96 });
        expect(ceilingLine(alarm)).toBe(
          'sluice: warning: the main thread, which only dispatches to the 2 lanes, has been at least 90% busy for 15 s ' +
            '(96% over the last few seconds): the dispatcher (reading the input, handing tasks out, taking outcomes back) ' +
            'is the bottleneck, so more --lanes or --threads will not help; make the tasks fewer and larger, or run more processes',
        );
        expect(JSON.parse(ceilingJsonLine(alarm))).toEqual({
          type: 'warning',
          warning: 'main-thread-ceiling',
          elapsedMs: t,
          forMs: 15_000,
          mainThread: { utilization: 0.8, recentUtilization: 0.96 },
          lanes: 2,
          message: ceilingLine(alarm).slice('sluice: warning: '.length),
        });
      }
    }
    expect(fired).toEqual([15_000]);
  });

  it('fires the lanes warning once when every lane stays >= 90% busy for 15 s over 3 checks; never when one lane is below', () => {
    const watch = createLanesWatch();
    const fired: number[] = [];
    for (let t = 0; t <= 60_000; t += 1000) if (watch(at(t, 0.1, [0.95, 0.92])) !== undefined) fired.push(t);
    expect(fired).toEqual([15_000]);

    // One lane just below, for a long time; and a run without lanes, its main thread saturated.
    const oneBelow = createLanesWatch();
    const noLanes = createLanesWatch();
    for (let t = 0; t <= 120_000; t += 1000) {
      expect(oneBelow(at(t, 0.99, [1, 0.899]))).toBeUndefined();
      expect(noLanes(at(t, 1))).toBeUndefined();
    }
    // The lanes take turns dipping: never every lane for 15 s in a row.
    const turns = createLanesWatch();
    for (let t = 0; t <= 120_000; t += 1000) {
      const dip = (t / 1000) % 10 === 0;
      expect(turns(at(t, 0.5, dip ? [0.5, 1] : [1, 1]))).toBeUndefined();
    }
    expect(createLanesWatch({ checks: 2, forMs: 0 })(at(0, 0, [1]))).toBeUndefined();
    expect(() => createLanesWatch({ checks: 0 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
  });

  it('says more lanes (not threads) help, as a line and as a JSON event', () => {
    const alarm = createLanesWatch({ forMs: 0, checks: 1 })(at(20_400.4, 0.2, [0.9312, 0.95]))!;
    expect(alarm).toEqual({ elapsedMs: 20_400.4, forMs: 0, threshold: 0.9, busy: [0.9312, 0.95] });
    const long = { ...alarm, forMs: 15_000 };
    expect(lanesLine(long)).toBe(
      'sluice: warning: every lane has been at least 90% busy for 15 s (lanes 2, busy 93% 95% over the last few seconds): ' +
        "each lane's thread runs its io stages and payload handling, and they are the bottleneck, so more --threads will not help; " +
        'if cores are free, run more --lanes',
    );
    expect(JSON.parse(lanesJsonLine(long))).toEqual({
      type: 'warning',
      warning: 'lanes-saturated',
      elapsedMs: 20_400,
      forMs: 15_000,
      lanes: { count: 2, busy: [0.931, 0.95] },
      message: lanesLine(long).slice('sluice: warning: '.length),
    });
  });

  it('is written once per kind per run by every reporter mode; turned off with the ceiling', async () => {
    for (const mode of ['json', 'none', 'bar'] as const) {
      let t = 0;
      const lines: string[] = [];
      const { stream, chunks } = fakeTty(400);
      // The dispatcher saturated from the start, every lane from 5 s on.
      const snapshot = (): RunSnapshot =>
        snap({
          elapsedMs: t,
          done: 1,
          stats: {
            ...stats({ main: { utilization: 0.9, recentUtilization: 0.97 } }),
            lanes: lanesOf(t >= 5000 ? [0.95, 0.99] : [0.5, 0.99]),
          },
        });
      const r = await createReporter(mode, { snapshot, intervalMs: 1000, stream, write: (l) => lines.push(l) });
      const off = await createReporter(mode, { snapshot, intervalMs: 1000, stream, write: (l) => lines.push(l), ceiling: false });
      for (; t <= 60_000; t += 1000) {
        r.tick();
        off.tick();
      }
      r.stop();
      off.stop();
      const out = mode === 'bar' ? stripVTControlCharacters(chunks.join('')).split('\n') : lines;
      const warnings = out.filter((l) => l.includes('"type":"warning"') || l.startsWith('sluice: warning:'));
      if (mode === 'json') {
        expect(warnings.map((w) => JSON.parse(w) as { warning: string; elapsedMs: number })).toMatchObject([
          { warning: 'main-thread-ceiling', elapsedMs: 15_000, lanes: 2 },
          { warning: 'lanes-saturated', elapsedMs: 20_000, lanes: { count: 2, busy: [0.95, 0.99] } },
        ]);
      } else {
        expect([mode, warnings.length]).toEqual([mode, 2]);
        expect(warnings[0]).toMatch(/^sluice: warning: the main thread, which only dispatches to the 2 lanes, /);
        expect(warnings[1]).toMatch(/^sluice: warning: every lane has been at least 90% busy for 15 s \(lanes 2, busy 95% 99%/);
      }
    }
  });
});

describe('lane metrics', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves each lane utilisation, the held tasks and the restarts (a counter) of a run in lanes', async () => {
    let lanes = lanesOf([0.45, 0.51]);
    server = await startMetrics({ port: 0, services: [], snapshot: () => snap({ done: 2, stats: { ...stats(), lanes } }) });
    const text = await (await fetch(server.url)).text();
    const p = 'sluice_';
    expect(metricOf(text, `${p}lane_utilization`, { lane: '0' })).toBe(0.45);
    expect(metricOf(text, `${p}lane_utilization`, { lane: '1' })).toBe(0.51);
    expect(metricOf(text, `${p}lanes_held`)).toBe(40);
    expect(metricOf(text, `${p}lane_restarts_total`)).toBe(1);
    expect(text).toContain('# TYPE sluice_lane_utilization gauge');
    expect(text).toContain('# TYPE sluice_lanes_held gauge');
    expect(text).toContain('# TYPE sluice_lane_restarts_total counter');
    expect(text).toMatch(/^# HELP sluice_lane_utilization A lane's event-loop utilisation over the last few seconds, 0 to 1: /m);
    expect(text).toMatch(/^# HELP sluice_lanes_held Tasks the lanes hold now: sent to a lane, not answered yet\.$/m);
    expect(text).toMatch(/^# HELP sluice_lane_restarts_total Lanes started again after one stopped\.$/m);

    lanes = lanesOf([0.9, 0.2, 0.3], undefined, { held: 7, restarts: 3 });
    const again = await (await fetch(server.url)).text();
    expect(metricOf(again, `${p}lane_utilization`, { lane: '2' })).toBe(0.3);
    expect(metricOf(again, `${p}lanes_held`)).toBe(7);
    expect(metricOf(again, `${p}lane_restarts_total`)).toBe(3);
  });

  it('has no lane metrics for a run without lanes', async () => {
    server = await startMetrics({ port: 0, services: [], snapshot: () => snap({ done: 0 }) });
    const text = await (await fetch(server.url)).text();
    expect(text).not.toMatch(/sluice_lanes?_/);
  });
});
