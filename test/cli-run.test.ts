/**
 * `sluice run`, `sluice config` and `sluice bench` in-process through main(argv, io): job modules,
 * input files, config layers and flags, and every kind of bad input (exit code 2 or 1, a message
 * that names what was wrong, and the rest of the job still runs where it can).
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../src/cli/main.js';
import { formatSummary, type RunSummary } from '../src/cli/run/summary.js';
import type { ExecutorStats } from '../src/index.js';

const job = fileURLToPath(new URL('./fixtures/jobs/double-job.ts', import.meta.url));
const noDefault = fileURLToPath(new URL('./fixtures/jobs/no-default.ts', import.meta.url));
const plainJob = fileURLToPath(new URL('./fixtures/jobs/plain-job.mjs', import.meta.url));
const rejectJob = fileURLToPath(new URL('./fixtures/jobs/reject-job.ts', import.meta.url));
const closingJob = fileURLToPath(new URL('./fixtures/jobs/closing-job.ts', import.meta.url));
const noExportWorkerJob = fileURLToPath(new URL('./fixtures/jobs/no-export-worker-job.ts', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-run-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A server on 127.0.0.1 holding a port, for a --metrics-port that is taken. */
async function listening(): Promise<Server> {
  const server = createServer((_req, res) => res.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function capture(env: Record<string, string> = {}): { out: string[]; err: string[]; io: CliIo } {
  const out: string[] = [];
  const err: string[] = [];
  // One io.out call may carry several lines (a batch of outcomes): one entry per line, as printed.
  return { out, err, io: { out: (l) => out.push(...l.split('\n')), err: (l) => err.push(l), env, cwd: dir } };
}

type Line = Record<string, unknown> & { ok: boolean; index?: number; line?: number; value?: { n: number }; stage?: string };

function jsonLines(lines: readonly string[]): Line[] {
  return lines.map((l) => JSON.parse(l) as Line);
}

/** The JSON progress/summary lines a run wrote to stderr. */
function logLines(err: readonly string[]): Array<Record<string, unknown>> {
  return err.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('sluice run', () => {
  it('runs a .ts job on its own input and writes one JSON line per outcome, then a summary', async () => {
    const c = capture();
    expect(await main(['run', job, '--log', 'json'], c.io)).toBe(0);
    const outcomes = jsonLines(c.out);
    expect(outcomes).toHaveLength(20);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(outcomes.map((o) => o.value!.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n * 2));
    const summary = logLines(c.err).find((l) => l.type === 'summary');
    expect(summary).toMatchObject({ type: 'summary', job: 'double', tasks: 20, completed: 20, failed: 0, rejectedRecords: 0 });
  });

  it('applies --threads, --io and --buffer to the job (flags over env over the config file)', async () => {
    await writeFile(join(dir, 'sluice.config.json'), JSON.stringify({ threads: 1, io: { calc: 3 }, log: 'json' }));
    const c = capture({ SLUICE_IO: 'calc=5', SLUICE_THREADS: '2' });
    expect(await main(['run', job, '--io', 'calc=2', '--output', 'out.jsonl', '--log-interval', '100'], c.io)).toBe(0);
    const outcomes = jsonLines((await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n'));
    expect(outcomes).toHaveLength(20);
    // The fetch stage reports the service's limit: the flag's 2 won over env's 5 and the file's 3.
    // The double worker sees { n, limit } and returns { n: 2n }, so check the limit through the log.
    const final = logLines(c.err).find((l) => l.type === 'progress' && l.final === true) as
      | { threads: number; services: Record<string, { limit: number }> }
      | undefined;
    expect(final).toBeDefined();
    expect(final!.services.calc!.limit).toBe(2);
    // Threads: env's 2 won over the file's 1.
    expect(final!.threads).toBe(2);
    expect(c.out).toEqual([]);
  });

  it('reports a malformed JSONL line with its line number, runs the rest, and exits 1', async () => {
    const input = join(dir, 'tasks.jsonl');
    await writeFile(input, ['{"n": 1}', '{"n": 2}', '{"n": 3', '', '{"n": "x"}', '{"n": -1}', '{"n": 6}'].join('\n'));
    const c = capture();
    expect(await main(['run', job, '--input', input, '--log', 'json'], c.io)).toBe(1);
    const lines = jsonLines(c.out);
    const byLine = new Map(lines.map((l) => [l.line, l]));
    // Lines 1, 2 and 7 ran; 3 is not JSON; 5 is rejected by the job's parse(); 6 fails in fetch.
    expect(byLine.get(1)).toMatchObject({ ok: true, value: { n: 2 } });
    expect(byLine.get(2)).toMatchObject({ ok: true, value: { n: 4 } });
    expect(byLine.get(7)).toMatchObject({ ok: true, value: { n: 12 } });
    expect(byLine.get(3)).toMatchObject({ ok: false, stage: 'input', error: { code: 'ERR_SLUICE_INPUT_RECORD' } });
    expect(byLine.get(5)).toMatchObject({ ok: false, stage: 'input', error: { code: 'ERR_SLUICE_INPUT_RECORD' } });
    expect(byLine.get(6)).toMatchObject({ ok: false, stage: 'fetch', error: { code: 'E_NEGATIVE' } });
    expect(lines).toHaveLength(6);
    // The reasons are kept: the JSON parser's, and what the job's parse() threw.
    expect(byLine.get(3)!.error).toMatchObject({ cause: { name: 'SyntaxError' } });
    expect(byLine.get(5)!.error).toMatchObject({
      cause: { name: 'TypeError', message: 'expected a record with a numeric "n", got {"n":"x"}' },
    });
    const rejects = c.err.filter((l) => l.startsWith('sluice: skipped input record'));
    expect(rejects).toHaveLength(2);
    expect(rejects[0]).toContain('tasks.jsonl:3:');
    expect(rejects[0]).toContain('(SyntaxError: ');
    expect(rejects[1]).toContain('tasks.jsonl:5:');
    expect(rejects[1]).toContain('(TypeError: expected a record with a numeric "n"');
    expect(logLines(c.err).find((l) => l.type === 'summary')).toMatchObject({
      completed: 3,
      failed: 1,
      rejectedRecords: 2,
      interrupted: 0,
    });
  });

  it('keeps what parse() threw (message, code, cause) in the failed line; stderr shows the first 5 rejects, then a count', async () => {
    const input = join(dir, 'tasks.jsonl');
    const records = [{ id: 1 }, ...Array.from({ length: 8 }, (_, i) => ({ id: 100 + i })), { id: 2 }];
    await writeFile(input, records.map((r) => JSON.stringify(r)).join('\n'));
    const c = capture();
    expect(await main(['run', rejectJob, '--input', input, '--output', 'out.jsonl', '--log', 'none'], c.io)).toBe(1);
    const lines = jsonLines((await readFile(join(dir, 'out.jsonl'), 'utf8')).trim().split('\n'));
    const rejected = lines.filter((l) => l.stage === 'input');
    expect(rejected.map((l) => l.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rejected[0]!.error).toMatchObject({
      name: 'SluiceInputRecordError',
      code: 'ERR_SLUICE_INPUT_RECORD',
      line: 2,
      cause: { name: 'RangeError', code: 'E_ID_RANGE', message: 'id 100 is out of range', cause: { message: 'ids run from 0 to 99' } },
    });
    expect(lines.filter((l) => l.ok)).toHaveLength(2);
    // --log none: no progress and no summary, but the rejects are on stderr.
    expect(
      c.err.slice(0, 5).every((l) => l.startsWith('sluice: skipped input record') && l.includes('(RangeError E_ID_RANGE: id 10')),
    ).toBe(true);
    expect(c.err[4]).toContain('tasks.jsonl:6:');
    expect(c.err.slice(5)).toHaveLength(1);
    expect(c.err[5]).toMatch(/^sluice: 3 more input records were skipped; .*out\.jsonl$/);
  });

  it('--log none prints nothing on a run that goes well', async () => {
    const c = capture();
    expect(await main(['run', job, '--log', 'none'], c.io)).toBe(0);
    expect(jsonLines(c.out)).toHaveLength(20);
    expect(c.err).toEqual([]);
  });

  it("calls the job's close() exactly once on every exit path after it loaded", async () => {
    const key = Symbol.for('sluice.test.closes');
    const counters = globalThis as unknown as Record<symbol, number | undefined>;
    const busy = await listening();
    try {
      await writeFile(join(dir, 'fails.jsonl'), '{"n":1}\n{"n":-1}\n');
      await writeFile(join(dir, 'boom.jsonl'), '{"n":1,"boom":true}\n{"n":2}\n');
      const cases: Array<[string[], number]> = [
        [[], 0],
        [['--io', 'nosuch=1'], 2],
        [['--metrics-port', String((busy.address() as AddressInfo).port)], 2],
        [['--input', 'fails.jsonl'], 1],
        [['--input', 'boom.jsonl'], 1],
      ];
      for (const [args, code] of cases) {
        const before = counters[key] ?? 0;
        const c = capture();
        expect(await main(['run', closingJob, '--log', 'none', ...args], c.io), args.join(' ')).toBe(code);
        expect((counters[key] ?? 0) - before, args.join(' ')).toBe(1);
      }
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  it('reports an error that ended the run once, then exits 1 (onOutcome threw)', async () => {
    await writeFile(join(dir, 'boom.jsonl'), '{"n":1,"boom":true}\n');
    const c = capture();
    expect(await main(['run', closingJob, '--input', 'boom.jsonl', '--log', 'none'], c.io)).toBe(1);
    expect(c.err).toEqual(['sluice run: the run ended early: onOutcome failed']);
  });

  it('redirects other stdout output while outcomes go to stdout, and restores it on every exit path', async () => {
    const calls: string[] = [];
    const io = (): CliIo => ({
      ...capture().io,
      redirectStdout() {
        calls.push('redirect');
        return () => calls.push('restore');
      },
    });
    expect(await main(['run', job, '--log', 'none'], io())).toBe(0);
    expect(calls).toEqual(['redirect', 'restore']);
    expect(await main(['run', job, '--log', 'none', '--output', '-', '--io', 'nosuch=1'], io())).toBe(2);
    expect(await main(['run', noDefault], io())).toBe(2);
    expect(calls).toEqual(['redirect', 'restore', 'redirect', 'restore', 'redirect', 'restore']);
    // With an output file, stdout carries no outcomes: nothing to redirect.
    expect(await main(['run', job, '--log', 'none', '--output', 'out.jsonl'], io())).toBe(0);
    expect(calls).toHaveLength(6);
  });

  it('reports a worker module without a default export once, as a job error with a hint, and exits 2', async () => {
    const c = capture();
    expect(await main(['run', noExportWorkerJob, '--log', 'json'], c.io)).toBe(2);
    const human = c.err.filter((l) => !l.startsWith('{'));
    const reported = human.filter((l) => l.includes('ERR_SLUICE_WORKER_EXPORT') || l.includes('cpu stage "compute"'));
    expect(reported).toHaveLength(1);
    expect(human.some((l) => l.startsWith('sluice run: hint: '))).toBe(true);
    expect(c.err.join('\n')).not.toContain('ended early');
    expect(logLines(c.err).find((l) => l.type === 'summary')).toMatchObject({ errorCode: 'ERR_SLUICE_WORKER_EXPORT' });
  });

  it('reads every record from a named pipe (nothing is read ahead of the run to check or count it)', async () => {
    const fifo = join(dir, 'tasks.jsonl');
    execFileSync('mkfifo', [fifo]);
    const writer = createWriteStream(fifo);
    writer.end(Array.from({ length: 30 }, (_, n) => JSON.stringify({ n })).join('\n'));
    const c = capture();
    expect(await main(['run', job, '--input', fifo, '--log', 'json'], c.io)).toBe(0);
    expect(
      jsonLines(c.out)
        .map((l) => l.line)
        .sort((a, b) => a! - b!),
    ).toEqual(Array.from({ length: 30 }, (_, n) => n + 1));
  });

  it('reads CSV task files', async () => {
    const input = join(dir, 'tasks.csv');
    await writeFile(input, 'n,name\n1,a\n2,b\n');
    const c = capture();
    expect(await main(['run', job, '--input', input, '--log', 'none'], c.io)).toBe(0);
    expect(
      jsonLines(c.out)
        .map((l) => [l.line, l.value!.n])
        .sort(),
    ).toEqual([
      [2, 2],
      [3, 4],
    ]);
  });

  it('takes only --limit tasks and writes them in input order with --ordered', async () => {
    const c = capture();
    expect(await main(['run', job, '--limit', '7', '--ordered', '--log', 'none'], c.io)).toBe(0);
    expect(jsonLines(c.out).map((l) => l.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('runs a JavaScript job module', async () => {
    const c = capture();
    expect(await main(['run', plainJob, '--log', 'none'], c.io)).toBe(0);
    expect(
      jsonLines(c.out)
        .map((l) => (l.value as unknown as { square: number }).square)
        .sort((a, b) => a - b),
    ).toEqual([1, 4, 9, 16, 25]);
  });

  it('lists every flag with its default in --help', async () => {
    const c = capture();
    expect(await main(['run', '--help'], c.io)).toBe(0);
    const help = c.out.join('\n');
    for (const flag of [
      '--input',
      '--output',
      '--threads',
      '--io',
      '--buffer',
      '--[no-]ordered',
      '--config',
      '--log',
      '--metrics-port',
      '--limit',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('default');
    expect(help).toMatch(/\.json are JSON Lines/);
  });

  describe('bad input: exit 2 and a message that names it', () => {
    it('an unknown flag', async () => {
      const c = capture();
      expect(await main(['run', job, '--thread', '2'], c.io)).toBe(2);
      expect(c.err[0]).toContain('--thread');
      expect(c.out).toEqual([]);
    });

    it('a config file value of the wrong type, naming the key, the file, and the value', async () => {
      await writeFile(join(dir, 'sluice.config.json'), JSON.stringify({ threads: 'two' }));
      const c = capture();
      expect(await main(['run', job], c.io)).toBe(2);
      expect(c.err[0]).toMatch(/threads/);
      expect(c.err[0]).toContain('sluice.config.json');
      expect(c.err[0]).toContain('"two"');
    });

    it('a job module without a default export', async () => {
      const c = capture();
      expect(await main(['run', noDefault], c.io)).toBe(2);
      expect(c.err[0]).toContain('no default export');
      expect(c.err[0]).toContain('job');
    });

    it('a job module that does not exist, and no job at all', async () => {
      const c = capture();
      expect(await main(['run', join(dir, 'nope.ts')], c.io)).toBe(2);
      expect(c.err[0]).toContain('nope.ts');
      expect(await main(['run'], capture().io)).toBe(2);
    });

    it('an --io setting for a service the job does not declare', async () => {
      const c = capture();
      expect(await main(['run', job, '--io', 'nosuch=4'], c.io)).toBe(2);
      expect(c.err[0]).toContain('io.nosuch');
      expect(c.err[0]).toContain('service calc');
    });

    it('an output file in a directory that does not exist', async () => {
      const c = capture();
      expect(await main(['run', job, '--output', join(dir, 'missing', 'out.jsonl')], c.io)).toBe(2);
      expect(c.err[0]).toContain('missing');
    });

    it('a missing or unreadable --input, naming the file', async () => {
      await mkdir(join(dir, 'adir.jsonl'));
      for (const input of [join(dir, 'nope.jsonl'), join(dir, 'adir.jsonl')]) {
        const c = capture();
        expect(await main(['run', job, '--input', input, '--log', 'none'], c.io)).toBe(2);
        expect(c.err[0]).toContain(`Cannot read input file ${input}`);
        expect(c.out).toEqual([]);
      }
    });

    it('a .json input that is a JSON array, with the jq hint', async () => {
      await writeFile(join(dir, 'tasks.json'), JSON.stringify([{ n: 1 }, { n: 2 }]));
      const c = capture();
      expect(await main(['run', job, '--input', 'tasks.json', '--log', 'none'], c.io)).toBe(2);
      expect(c.err[0]).toContain("jq -c '.[]'");
      expect(c.err[0]).toContain('--input-format jsonl');
      expect(c.out).toEqual([]);
    });

    it('leaves an existing output file as it was on every usage failure', async () => {
      const out = join(dir, 'out.jsonl');
      const busy = await listening();
      try {
        await writeFile(join(dir, 'tasks.json'), '[\n{"n": 1}\n]\n');
        await mkdir(join(dir, 'adir.jsonl'));
        const cases: string[][] = [
          ['--input', 'nope.jsonl'],
          ['--input', 'adir.jsonl'],
          ['--input', 'tasks.json'],
          ['--input', 'tasks.txt'],
          ['--input', 'out.jsonl'],
          ['--io', 'nosuch=1'],
          ['--threads', 'two'],
          ['--metrics-port', String((busy.address() as AddressInfo).port)],
        ];
        for (const args of cases) {
          await writeFile(out, 'precious\n');
          const c = capture();
          expect(await main(['run', job, '--output', out, '--log', 'none', ...args], c.io), args.join(' ')).toBe(2);
          expect(await readFile(out, 'utf8'), args.join(' ')).toBe('precious\n');
        }
        await writeFile(out, 'precious\n');
        expect(await main(['run', noDefault, '--output', out], capture().io)).toBe(2);
        expect(await readFile(out, 'utf8')).toBe('precious\n');
      } finally {
        await new Promise((resolve) => busy.close(resolve));
      }
    });
  });
});

describe('the run summary', () => {
  const stats = (pulled: number): ExecutorStats => ({
    stages: [],
    buffers: [],
    buffered: { size: 0, peak: 3 },
    tasks: { pulled, open: 0, peakOpen: 8, completed: 0, failed: 0 },
    mainThread: { utilization: 0.4123, recentUtilization: 0.9 },
  });
  const base: RunSummary = {
    job: 'j',
    elapsedMs: 2000,
    completed: 40,
    failed: 1,
    rejected: 0,
    interrupted: 9,
    stats: stats(50),
    output: 'out.jsonl',
    lines: 41,
    peakRssBytes: 2 ** 20,
    interruptedBy: 'SIGINT',
  };

  it('accounts for every pulled task: completed, failed and interrupted, in both forms', () => {
    const [human, why] = formatSummary(base, false);
    expect(human).toMatch(/^sluice: j: 40 completed, 1 failed, 9 interrupted in 2\.0 s \(20\.5 tasks\/s\); main thread 41% busy; /);
    expect(why).toBe(
      'sluice: interrupted by SIGINT: 9 started tasks were aborted (no output line: a later run can do them again); the rest of the input was not started',
    );
    const [json] = formatSummary({ ...base, forced: true }, true);
    expect(JSON.parse(json!)).toMatchObject({
      type: 'summary',
      tasks: 41,
      completed: 40,
      failed: 1,
      interrupted: 9,
      pulled: 50,
      interruptedBy: 'SIGINT',
      forced: true,
      mainThreadUtilization: 0.412,
    });
  });

  it('says every started task finished after a drain, and that tasks were stopped by an error', () => {
    expect(formatSummary({ ...base, interrupted: 0, stats: stats(41) }, false)[1]).toBe(
      'sluice: interrupted by SIGINT: every started task finished; the rest of the input was not started',
    );
    const { interruptedBy: _, ...noSignal } = base;
    expect(formatSummary({ ...noSignal, interrupted: 2 }, false)[1]).toBe(
      'sluice: 2 started tasks were stopped before finishing (no output line): the run ended early',
    );
    expect(formatSummary({ ...noSignal, interrupted: 0 }, false)).toHaveLength(1);
  });
});

describe('sluice config', () => {
  it('prints each resolved value with its source', async () => {
    await writeFile(join(dir, 'sluice.config.json'), JSON.stringify({ buffer: 8 }));
    const c = capture({ SLUICE_THREADS: '3' });
    expect(await main(['config', '--io', 'docs=adaptive'], c.io)).toBe(0);
    const text = c.out.join('\n');
    expect(text).toMatch(/threads\s+3\s+.*env SLUICE_THREADS/);
    expect(text).toMatch(/buffer\s+8\s+.*sluice\.config\.json/);
    expect(text).toMatch(/io\.docs\s+adaptive.*flag --io/);
  });
});

describe('sluice bench', () => {
  it('runs the job under each setting of the matrix, marks the best, and writes JSON', async () => {
    const c = capture();
    const out = join(dir, 'bench.json');
    expect(await main(['bench', job, '--threads', '1,2', '--io', 'calc=2,adaptive', '--sample', '10', '--json', out], c.io)).toBe(0);
    const table = c.out.join('\n');
    for (const label of ['threads=1 calc=2', 'threads=1 calc=adaptive', 'threads=2 calc=2', 'threads=2 calc=adaptive']) {
      expect(table).toContain(label);
    }
    expect(c.out.filter((l) => l.startsWith('*'))).toHaveLength(1);
    expect(c.out[0]).toMatch(/failures\s+main thread$/);
    for (const row of c.out.slice(2, 6)) expect(row).toMatch(/\s\d{1,3}%$/);
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      results: Array<{
        label: string;
        failures: number;
        peakBuffered: number;
        peakRssMiB: number;
        tasksPerSecond: number;
        mainThreadUtilization: number;
      }>;
      runs: Array<{ summary: { tasks: number } }>;
      best: string;
    };
    expect(report.results).toHaveLength(4);
    expect(report.runs.every((r) => r.summary.tasks === 10)).toBe(true);
    for (const r of report.results) {
      expect(r.failures).toBe(0);
      expect(r.peakRssMiB).toBeGreaterThan(0);
      expect(r.tasksPerSecond).toBeGreaterThan(0);
      expect(r.mainThreadUtilization).toBeGreaterThan(0); // every run reported it
      expect(r.mainThreadUtilization).toBeLessThanOrEqual(1);
    }
    expect(report.results.map((r) => r.label)).toContain(report.best);
  });

  it('rejects a bad matrix value before running anything', async () => {
    const c = capture();
    expect(await main(['bench', job, '--io', 'calc=fast'], c.io)).toBe(2);
    expect(c.err[0]).toContain('io.calc');
  });
});
