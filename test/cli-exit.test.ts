/**
 * How the built `sluice` executable ends, in child processes, with a job that opens an HTTP server
 * when its module loads (test/fixtures/jobs/server-job.ts): while the server listens the process
 * cannot end by itself, so each exit path must call the job's close() or exit regardless. The job
 * logs `opened`, `start N` and `closed` to a file synchronously; the tests read it, and the output,
 * rather than watching the clock (the wait limits in `until` only stop a hung test).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killLeftovers, lines, startBin, until, type Running } from './helpers/bin-child.js';

const serverJob = fileURLToPath(new URL('./fixtures/jobs/server-job.ts', import.meta.url));
const chattyJob = fileURLToPath(new URL('./fixtures/jobs/chatty-job.ts', import.meta.url));
const setupHangJob = fileURLToPath(new URL('./fixtures/jobs/setup-hang-job.ts', import.meta.url));

let dir: string;
let log: string;
const servers: Server[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-exit-'));
  log = join(dir, 'job.log');
});
afterEach(async () => {
  killLeftovers();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function start(args: readonly string[], env: Record<string, string> = {}): Running {
  return startBin(args, { cwd: dir, env: { SLUICE_TEST_LOG: log, ...env } });
}

/** The job's log: `opened`/`closed` counts and the tasks started. */
function jobLog(): { opened: number; closed: number; started: number } {
  const all = lines(log);
  return {
    opened: all.filter((l) => l === 'opened').length,
    closed: all.filter((l) => l === 'closed').length,
    started: all.filter((l) => l.startsWith('start ')).length,
  };
}

function summaryOf(stderr: string): Record<string, unknown> | undefined {
  const line = stderr.split('\n').find((l) => l.startsWith('{"type":"summary"'));
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
}

async function takenPort(): Promise<number> {
  const server = createServer((_req, res) => res.end());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('every exit path of sluice run ends the process, after the job closed what it opened', () => {
  it('a bad --io name found after the job loaded: exit 2, close() called', async () => {
    const run = start(['run', serverJob, '--io', 'nosuch=1']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('io.nosuch');
    expect(jobLog()).toEqual({ opened: 1, closed: 1, started: 0 });
  });

  it('a --metrics-port that is taken, found after the job loaded: exit 2, close() called', async () => {
    const port = await takenPort();
    const run = start(['run', serverJob, '--metrics-port', String(port), '--output', 'out.jsonl']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain(`Cannot serve metrics on 127.0.0.1:${port}`);
    expect(jobLog()).toEqual({ opened: 1, closed: 1, started: 0 });
    expect(existsSync(join(dir, 'out.jsonl'))).toBe(false);
  });

  it('an --output in a missing directory: exit 2 before the job loads, nothing created', async () => {
    const run = start(['run', serverJob, '--output', join('missing-dir', 'out.jsonl')]);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('missing-dir');
    expect(jobLog()).toEqual({ opened: 0, closed: 0, started: 0 });
    expect(existsSync(join(dir, 'missing-dir'))).toBe(false);
  });

  it('an unreadable --input: exit 2 naming the file, before the job loads; the output keeps its bytes', async () => {
    writeFileSync(join(dir, 'out.jsonl'), 'precious\n');
    await mkdir(join(dir, 'tasks.jsonl'));
    for (const input of ['nope.jsonl', 'tasks.jsonl']) {
      const run = start(['run', serverJob, '--input', input, '--output', 'out.jsonl']);
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toContain(`Cannot read input file ${join(dir, input)}`);
    }
    expect(jobLog()).toEqual({ opened: 0, closed: 0, started: 0 });
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8')).toBe('precious\n');
  });

  it('a run with a failed task: exit 1, close() called', async () => {
    const run = start(['run', serverJob, '--output', 'out.jsonl', '--log', 'json'], { SLUICE_TEST_TASKS: '10', SLUICE_TEST_FAIL_AT: '3' });
    expect(await run.exited).toBe(1);
    expect(summaryOf(run.stderr())).toMatchObject({ completed: 9, failed: 1, interrupted: 0 });
    expect(jobLog()).toEqual({ opened: 1, closed: 1, started: 10 });
  });

  it('a successful run: exit 0, close() called', async () => {
    const run = start(['run', serverJob, '--output', 'out.jsonl', '--log', 'json'], { SLUICE_TEST_TASKS: '10' });
    expect(await run.exited).toBe(0);
    expect(lines(join(dir, 'out.jsonl'))).toHaveLength(10);
    expect(jobLog()).toEqual({ opened: 1, closed: 1, started: 10 });
  });

  it('a first SIGINT: the run drains, close() is called, exit 130', async () => {
    const out = join(dir, 'out.jsonl');
    const run = start(['run', serverJob, '--output', out, '--log', 'json', '--log-interval', '3600000']);
    await until('5 outcomes are written', () => lines(out).length >= 5, run);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const { opened, closed, started } = jobLog();
    expect({ opened, closed }).toEqual({ opened: 1, closed: 1 });
    expect(lines(out)).toHaveLength(started);
    expect(summaryOf(run.stderr())).toMatchObject({ interruptedBy: 'SIGINT', completed: started, interrupted: 0, pulled: started });
  });

  it("a job's close() that never settles: reported after the bounded wait, and the process exits with the run's code", async () => {
    const run = start(['run', serverJob, '--output', 'out.jsonl', '--log', 'none'], {
      SLUICE_TEST_TASKS: '3',
      SLUICE_TEST_CLOSE_HANGS: '1',
    });
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toContain("sluice run: the job's close() did not finish within 10 s; going on without it");
    expect(jobLog()).toEqual({ opened: 1, closed: 0, started: 3 });
  });

  it('says why when the job waits on a promise nothing can settle and Node ends the process', async () => {
    const index = new URL('../dist/src/index.js', import.meta.url).href;
    writeFileSync(
      join(dir, 'job.mjs'),
      `import { defineJob, io } from ${JSON.stringify(index)};\n` +
        `export default defineJob({ stages: [io('wait', () => new Promise(() => {}), { concurrency: 1 })], input: [1] });\n`,
    );
    const run = start(['run', 'job.mjs', '--log', 'none']);
    expect(await run.exited).toBe(13);
    expect(run.stderr()).toContain('sluice: the process is ending while the command still waits on the job');
  });

  it('a bug that makes main() throw: printed, close() called, exit 1', async () => {
    const run = start(['run', serverJob, '--output', 'out.jsonl'], { SLUICE_TEST_BUG: '1' });
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('sluice: internal error');
    expect(run.stderr()).toContain('a bug');
    expect(jobLog()).toEqual({ opened: 1, closed: 1, started: 0 });
  });
});

describe('a second SIGINT when tasks ignore the abort', () => {
  /** Tasks 0-11 finish; 12 and on wait forever and ignore ctx.signal. */
  async function stuckAfterTwoSignals(): Promise<{ run: Running; out: string }> {
    const out = join(dir, 'out.jsonl');
    const run = start(['run', serverJob, '--output', out, '--log', 'json', '--log-interval', '3600000'], { SLUICE_TEST_IGNORE_FROM: '12' });
    await until('tasks 0-11 are written and 12-15 hang', () => lines(out).length >= 12 && jobLog().started >= 16, run);
    run.child.kill('SIGINT');
    await until('the first signal is acknowledged', () => run.stderr().includes('finishing the ones in flight'), run);
    run.child.kill('SIGINT');
    await until('the second signal is acknowledged', () => run.stderr().includes('aborting the tasks in flight'), run);
    return { run, out };
  }

  it('stops waiting for them, closes the job, prints a summary that counts them as interrupted, and exits 130', async () => {
    const { run, out } = await stuckAfterTwoSignals();
    expect(await run.exited).toBe(130);
    const { started, closed } = jobLog();
    const written = lines(out).length;
    expect(written).toBe(12);
    expect(closed).toBe(1);
    expect(run.stderr()).toContain(`sluice: ${started - written} tasks still running 5 s after the abort`);
    expect(summaryOf(run.stderr())).toMatchObject({
      completed: written,
      failed: 0,
      interrupted: started - written,
      pulled: started,
      interruptedBy: 'SIGINT',
      forced: true,
    });
  });

  it("stops waiting for a job's setup() that never settles, and exits 130", async () => {
    const run = start(['run', setupHangJob, '--log', 'none']);
    await until('setup() runs', () => lines(log).includes('setup'), run);
    run.child.kill('SIGINT');
    await until('the first signal is acknowledged', () => run.stderr().includes('finishing the ones in flight'), run);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toContain('sluice: the job is still being set up 5 s after the abort; not waiting for it');
    // close() waits for setup() to settle (it gets what setup returned), so it is the one left behind.
    expect(run.stderr()).toContain("the job's close() did not finish within 10 s");
  });

  it('a third signal exits at once with 130, without the summary', async () => {
    const { run } = await stuckAfterTwoSignals();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toContain('SIGINT a third time: exiting now');
    expect(run.stderr()).not.toContain('still waits on the job');
    expect(summaryOf(run.stderr())).toBeUndefined();
  });
});

describe('stdout carries only outcomes', () => {
  it("sends the job's and its workers' own stdout output to stderr when outcomes go to stdout", async () => {
    const run = start(['run', chattyJob, '--log', 'none'], { SLUICE_TEST_TASKS: '20' });
    expect(await run.exited).toBe(0);
    const out = run
      .stdout()
      .split('\n')
      .filter((l) => l.length > 0);
    const outcomes = out.map((l) => JSON.parse(l) as { ok: boolean; index: number; value: { n: number } });
    expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(outcomes.every((o) => o.ok && o.value.n === o.index * 2)).toBe(true);
    const err = run.stderr();
    expect(err).toContain('chatty: module loaded');
    for (let n = 0; n < 20; n++) {
      expect(err).toContain(`chatty: io stage, task ${n}\n`);
      expect(err).toContain(`chatty: worker, task ${n}\n`);
      expect(err).toContain(`chatty: worker write, task ${n}\n`);
    }
  });

  it('leaves stdout to the job when outcomes go to a file', async () => {
    const run = start(['run', chattyJob, '--log', 'none', '--output', 'out.jsonl'], { SLUICE_TEST_TASKS: '3' });
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('chatty: worker, task 2');
    expect(lines(join(dir, 'out.jsonl'))).toHaveLength(3);
  });
});
