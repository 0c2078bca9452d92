/**
 * `sluice bench`: runs past `--run-timeout` are stopped and leave no process behind, the table
 * marks them and never names them best, and the "Best:" line is a command that reproduces the run.
 * The bench runs as the built executable in a child process (its children are grandchildren of
 * the test), on a fixture job whose `--io svc=1` setting hangs and whose processes log their pids.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommandLine, shellQuote } from '../src/cli/bench/reproduce.js';
import { bestOf, formatTable, summarize } from '../src/cli/bench/table.js';
import type { ChildSummary } from '../src/cli/bench/child.js';

const bin = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));
const job = fileURLToPath(new URL('./fixtures/jobs/bench-job.ts', import.meta.url));

let dir: string;
let pidFile: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  pidFile = join(dir, 'pids');
});
afterEach(async () => {
  // Nothing should be left; if a test failed half way, do not leave its processes running either.
  for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function pids(): number[] {
  try {
    return readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function bench(args: readonly string[], onStart?: (child: ReturnType<typeof spawn>) => void): Promise<Exit> {
  const child = spawn(process.execPath, [bin, 'bench', job, ...args], {
    cwd: dir,
    env: { ...process.env, SLUICE_TEST_PID_FILE: pidFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  onStart?.(child);
  return new Promise((resolve, reject) => {
    // A bound on a hung test only: the bench itself should be done in about 25 s.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice bench did not exit within 55 s:\n${stderr}`));
    }, 55_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('sluice bench --run-timeout', () => {
  it('stops a run that outlives it (SIGTERM, then SIGKILL), marks it timed out, goes on with the other settings, and exits 1', async () => {
    // 8 s: room for a good run (svc=2, about a second) on two busy cores; svc=1 never finishes.
    const { code, stdout, stderr } = await bench([
      '--io',
      'svc=1,2',
      '--sample',
      '3',
      '--repeat',
      '2',
      '--run-timeout',
      '8',
      '--json',
      'bench.json',
    ]);
    expect(code, stderr).toBe(1);
    // One run of svc=1 (timed out, not run again), two of svc=2: three processes, all gone.
    const started = pids();
    expect(started).toHaveLength(3);
    for (const pid of started) expect(alive(pid), `process ${pid}`).toBe(false);

    const rows = stdout.split('\n');
    expect(rows.find((l) => l.includes('svc=1'))).toMatch(/^ +svc=1 .* timed out$/);
    expect(rows.find((l) => l.includes(' svc=2 '))).toMatch(/^\* +svc=2 /);
    expect(stdout).toContain(`Best: svc=2 (sluice run ${job} --limit 3 --io svc=2)`);
    expect(stderr).toMatch(/svc=1 \(run 1\/2\): timed out after 8 s \(SIGTERM, then SIGKILL/);

    const report = JSON.parse(await readFile(join(dir, 'bench.json'), 'utf8')) as {
      best: string;
      results: Array<{ label: string; runs: number; timedOut: number }>;
      runs: Array<{ setting: string; round: number; timedOut?: boolean }>;
    };
    expect(report.best).toBe('svc=2');
    expect(report.results).toEqual([
      expect.objectContaining({ label: 'svc=1', runs: 0, timedOut: 1 }),
      expect.objectContaining({ label: 'svc=2', runs: 2, timedOut: 0 }),
    ]);
    expect(report.runs.map((r) => [r.setting, r.round, r.timedOut === true])).toEqual([
      ['svc=1', 1, true],
      ['svc=2', 1, false],
      ['svc=2', 2, false],
    ]);
  });

  it('stops the run in progress when the bench itself gets SIGINT, and exits 130 leaving no process behind', async () => {
    const { code, stdout, stderr } = await bench(['--io', 'svc=1', '--sample', '3'], (child) => {
      // Once the run has started (its pid is logged), interrupt the bench, and only the bench.
      const poll = setInterval(() => {
        if (pids().length > 0) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 20);
      child.on('close', () => clearInterval(poll));
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('SIGINT: stopping the run in progress');
    expect(stdout.split('\n').find((l) => l.includes('svc=1'))).toMatch(/-\s+not run$/);
    const started = pids();
    expect(started).toHaveLength(1);
    expect(alive(started[0]!)).toBe(false);
  });

  it('refuses a run timeout that is not a positive number of seconds', async () => {
    for (const value of ['0', '-1', 'soon', '']) {
      const { code, stderr } = await bench(['--run-timeout', value]);
      expect(code, value).toBe(2);
      expect(stderr, value).toContain('--run-timeout');
    }
    expect(pids()).toEqual([]);
  });
});

describe('the Best: line', () => {
  it('is a command that reproduces the run: it keeps --input (quoted), --input-format, --buffer and the sample as --limit', async () => {
    const input = join(dir, "tasks (Bob's).jsonl");
    await writeFile(input, Array.from({ length: 10 }, (_, n) => JSON.stringify({ n: n * 10 })).join('\n'));
    const { code, stdout, stderr } = await bench([
      '--io',
      'svc=2',
      '--sample',
      '4',
      '--input',
      input,
      '--input-format',
      'jsonl',
      '--buffer',
      '2',
      '--json',
      'bench.json',
    ]);
    expect(code, stderr).toBe(0);
    const best = /^Best: svc=2 \((.*)\)$/m.exec(stdout)?.[1];
    expect(best).toBe(runCommandLine(job, ['--limit', '4', '--input', input, '--input-format', 'jsonl', '--buffer', '2', '--io', 'svc=2']));
    // Run it through a shell, with `sluice` standing for the built bin: the same 4 tasks of the file.
    const command = `${shellQuote(process.execPath)} ${shellQuote(bin)}${best!.slice('sluice'.length)} --log none`;
    const ran = await new Promise<{ stdout: string; error: Error | null }>((resolve) => {
      execFile('/bin/sh', ['-c', command], { cwd: dir }, (error, out) => resolve({ stdout: out, error }));
    });
    expect(ran.error).toBeNull();
    const values = ran.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { value: { n: number } }).value.n)
      .sort((a, b) => a - b);
    expect(values).toEqual([0, 10, 20, 30]);
  });
});

describe('shellQuote', () => {
  it('leaves plain words alone and single-quotes the rest so that sh reads back the same words', async () => {
    expect(shellQuote('--io')).toBe('--io');
    expect(shellQuote('docs=8,adaptive')).toBe('docs=8,adaptive');
    expect(shellQuote('/a/b.jsonl')).toBe('/a/b.jsonl');
    const words = ['a b', "it's", '$HOME', '`x`', '"q"', 'a;b', '*', '', 'back\\slash', 'new\nline'];
    const echoed = await new Promise<string>((resolve, reject) => {
      execFile('/bin/sh', ['-c', `printf '%s\\0' ${words.map(shellQuote).join(' ')}`], (error, out) =>
        error ? reject(error) : resolve(out),
      );
    });
    expect(echoed.split('\0').slice(0, -1)).toEqual(words);
  });
});

describe('the table', () => {
  const summary = (tasksPerSecond: number, failed = 0): ChildSummary => ({
    exitCode: failed > 0 ? 1 : 0,
    elapsedMs: 1000,
    tasks: 10,
    completed: 10 - failed,
    failed,
    rejectedRecords: 0,
    tasksPerSecond,
    peakBuffered: 2,
    peakRssBytes: 50 * 2 ** 20,
  });

  it('never marks a setting with a timed-out run as best, even when its finished runs were fastest', () => {
    const results = [
      summarize('fast', ['--io', 'a=8'], [summary(90)], 1),
      summarize('slow', ['--io', 'a=2'], [summary(40)]),
      summarize('failing', ['--io', 'a=4'], [summary(80, 1)]),
    ];
    const best = bestOf(results);
    expect(best?.label).toBe('slow');
    const table = formatTable(results, best);
    expect(table.find((l) => l.includes('fast'))).toMatch(/timed out$/);
    expect(table.find((l) => l.includes('slow'))).toMatch(/^\*/);
    expect(bestOf([summarize('only', [], [], 1)])).toBeUndefined();
    expect(formatTable([summarize('only', [], [], 1)], undefined)[2]).toMatch(/only\s+-\s+-\s+-\s+-\s+timed out$/);
  });
});
