/**
 * Outcome lines without a journal (stdout, or an --output that is no regular file) go out in
 * batches, one write call per batch (100 lines, or 20 ms after the first pending one, and at
 * close), never one per line; and every exit path writes what is pending first. In-process: the
 * sinks and a 1,000-task run through main(), counting io.out calls. In child processes (the built
 * CLI): a run to stdout stopped by one signal or two has every line its summary counts, once,
 * whole; a reader that goes away ends the run with a clear error and a non-zero exit.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BATCH_DEFAULTS } from '../src/cli/io/batch.js';
import { flushOutputs, openOutput } from '../src/cli/io/output.js';
import { main } from '../src/cli/main.js';
import { bin, killLeftovers, lines, startBin, until, type Running } from './helpers/bin-child.js';

const burstJob = fileURLToPath(new URL('./fixtures/jobs/burst-job.ts', import.meta.url));
const slowJob = fileURLToPath(new URL('./fixtures/jobs/slow-job.ts', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-output-batching-'));
});
afterEach(async () => {
  killLeftovers();
  await rm(dir, { recursive: true, force: true });
});

/** Polls `condition` every 5 ms (an event to wait for, not a time window); fails after 10 s. */
async function eventually(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A stdout that records each call. */
function recorder(): { calls: string[]; out: (text: string) => void } {
  const calls: string[] = [];
  return { calls, out: (text) => calls.push(text) };
}

const epipe = (): Error => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

describe('the stdout sink', () => {
  it('writes a full batch in one call as its last line arrives, and the rest at close', async () => {
    const { calls, out } = recorder();
    const sink = openOutput('-', out);
    const size = BATCH_DEFAULTS.size;
    for (let n = 0; n < size - 1; n++) sink.write(`line ${n}`);
    expect(calls).toHaveLength(0);
    expect(sink.lines).toBe(0);
    sink.write(`line ${size - 1}`);
    expect(calls).toHaveLength(1);
    expect(sink.lines).toBe(size);
    for (let n = size; n < 2 * size + 50; n++) sink.write(`line ${n}`);
    expect(calls).toHaveLength(2);
    await sink.close();
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => c.split('\n').length)).toEqual([size, size, 50]);
    // Byte for byte what one call per line printed: lines joined by newlines, the last newline added by `out`.
    expect(calls.map((c) => `${c}\n`).join('')).toBe(Array.from({ length: 2 * size + 50 }, (_, n) => `line ${n}\n`).join(''));
    expect(sink.lines).toBe(2 * size + 50);
  });

  it('writes what is pending from its timer, without waiting for a full batch or the close', async () => {
    const { calls, out } = recorder();
    const sink = openOutput('-', out);
    sink.write('a');
    sink.write('b');
    await eventually('the timer writes the batch', () => calls.length === 1);
    expect(calls).toEqual(['a\nb']);
    expect(sink.lines).toBe(2);
    await sink.close();
    expect(calls).toHaveLength(1);
  });

  it("keeps a failure of the timer's write: the next write throws it, with the output named and the code kept", async () => {
    let tries = 0;
    const failures: unknown[] = [];
    const sink = openOutput(
      '-',
      () => {
        tries++;
        throw epipe();
      },
      { onFailure: (error) => failures.push(error) },
    );
    sink.write('a');
    await eventually('the timer tries to write', () => tries === 1);
    expect(failures).toEqual([expect.objectContaining({ code: 'EPIPE', message: 'Cannot write to standard output: write EPIPE' })]);
    expect(() => sink.write('b')).toThrow(expect.objectContaining({ code: 'EPIPE', message: expect.stringContaining('standard output') }));
    expect(() => sink.flush()).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    expect(tries).toBe(1);
    expect(sink.lines).toBe(0);
    // A write already threw it (the run ends with it): the close does not report it twice.
    await expect(sink.close()).resolves.toBeUndefined();
  });

  it("rejects the close with a failure of the timer's write that no write has thrown", async () => {
    let tries = 0;
    const sink = openOutput('-', () => {
      tries++;
      throw epipe();
    });
    sink.write('a');
    await eventually('the timer tries to write', () => tries === 1);
    await expect(sink.close()).rejects.toMatchObject({ code: 'EPIPE', message: 'Cannot write to standard output: write EPIPE' });
    expect(sink.lines).toBe(0);
  });

  it('rejects the close when its own last batch fails, and counts only the lines handed over', async () => {
    let calls = 0;
    const sink = openOutput('-', () => {
      calls++;
      if (calls === 2) throw epipe();
    });
    for (let n = 0; n < BATCH_DEFAULTS.size + 3; n++) sink.write(`line ${n}`);
    await expect(sink.close()).rejects.toMatchObject({ code: 'EPIPE' });
    expect(sink.lines).toBe(BATCH_DEFAULTS.size);
  });

  it('flushOutputs writes the pending lines of every open sink at once (an exit that cannot wait)', async () => {
    const a = recorder();
    const b = recorder();
    const sinkA = openOutput('-', a.out);
    const sinkB = openOutput(undefined, b.out);
    sinkA.write('a1');
    sinkB.write('b1');
    sinkB.write('b2');
    flushOutputs();
    expect(a.calls).toEqual(['a1']);
    expect(b.calls).toEqual(['b1\nb2']);
    await sinkA.close();
    await sinkB.close();
    flushOutputs(); // closed sinks are no longer flushed
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(1);
  });
});

describe('a 1,000-task run to stdout, in-process', () => {
  it('makes one io.out call per 100 lines, and writes every line once, in order', async () => {
    const calls: string[] = [];
    const err: string[] = [];
    const code = await main(['run', burstJob, '--ordered', '--log', 'json', '--log-interval', '3600000'], {
      out: (text) => calls.push(text),
      err: (line) => err.push(line),
      cwd: dir,
    });
    expect(err.filter((l) => !l.startsWith('{"type":'))).toEqual([]);
    expect(code).toBe(0);
    const printed = calls.flatMap((c) => c.split('\n'));
    const outcomes = printed.map((l) => JSON.parse(l) as { ok: boolean; index: number; value: { n: number } });
    expect(outcomes.map((o) => o.index)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    expect(outcomes.every((o) => o.ok && o.value.n === o.index)).toBe(true);
    // The job releases its tasks 100 at a time, at once: each burst is one full batch, one call.
    expect(calls.length).toBeLessThanOrEqual(printed.length / 50);
    expect(calls.map((c) => c.split('\n').length)).toEqual(Array.from({ length: 10 }, () => 100));
    const summary = JSON.parse(err.find((l) => l.startsWith('{"type":"summary"'))!) as { completed: number; lines: number };
    expect(summary).toMatchObject({ completed: 1000, lines: 1000 });
  });
});

describe('the built CLI with outcomes on stdout', () => {
  function start(args: readonly string[], env: Record<string, string> = {}): Running {
    return startBin(args, { cwd: dir, env });
  }

  function stdoutLines(run: Running): string[] {
    return run
      .stdout()
      .split('\n')
      .filter((l) => l.length > 0);
  }

  function summaryOf(run: Running): Record<string, unknown> {
    const line = run
      .stderr()
      .split('\n')
      .find((l) => l.startsWith('{"type":"summary"'));
    if (line === undefined) throw new Error(`no summary:\n${run.stderr()}`);
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** Every line of stdout is a whole outcome, no index twice; returns the indexes. */
  function outcomeIndexes(run: Running): number[] {
    expect(run.stdout().endsWith('\n')).toBe(true);
    const indexes = stdoutLines(run).map((l) => (JSON.parse(l) as { index: number }).index);
    expect(new Set(indexes).size).toBe(indexes.length);
    return indexes;
  }

  it('a first SIGINT: the run drains, and every line the summary counts is on stdout, whole and once', async () => {
    const log = join(dir, 'tasks.log');
    const run = start(['run', slowJob, '--log', 'json', '--log-interval', '3600000'], { SLUICE_TEST_LOG: log });
    await until('30 outcomes are on stdout', () => stdoutLines(run).length >= 30, run);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const indexes = outcomeIndexes(run);
    const started = lines(log).filter((l) => l.startsWith('start ')).length;
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ interruptedBy: 'SIGINT', completed: started, failed: 0, interrupted: 0, lines: started });
    expect(indexes).toHaveLength(started);
  });

  it('two SIGINTs: the tasks in flight are aborted, and every line of a completed task is on stdout, whole and once', async () => {
    const log = join(dir, 'tasks.log');
    const run = start(['run', slowJob, '--log', 'json', '--log-interval', '3600000'], {
      SLUICE_TEST_LOG: log,
      SLUICE_TEST_HANG_FROM: '30',
    });
    // Tasks 0-29 finish; 30-33 wait until they are aborted.
    await until('tasks 0-29 are on stdout and 30-33 hang', () => stdoutLines(run).length >= 30 && lines(log).includes('start 33'), run);
    run.child.kill('SIGINT');
    await until('the first signal is acknowledged', () => run.stderr().includes('finishing the ones in flight'), run);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    const indexes = outcomeIndexes(run);
    expect(indexes.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(summaryOf(run)).toMatchObject({ interruptedBy: 'SIGINT', completed: 30, failed: 0, interrupted: 4, lines: 30 });
  });

  it('a reader of stdout that goes away (EPIPE): the run ends with a clear error, not a crash or a hang, exit 1', async () => {
    const log = join(dir, 'tasks.log');
    const run = start(['run', slowJob, '--log', 'json', '--log-interval', '3600000'], { SLUICE_TEST_LOG: log });
    await until('an outcome is on stdout', () => stdoutLines(run).length >= 1, run);
    run.child.stdout!.destroy();
    expect(await run.exited).toBe(1);
    expectBrokenPipe(run, 'Cannot write to standard output');
  });

  it("a reader that is gone before a command's help is written: a clear error, exit 1, not an internal error", async () => {
    for (const command of ['run', 'worker']) {
      const child = spawn(process.execPath, [bin, command, '--help'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.destroy();
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect([command, code, stderr.trim()]).toEqual([command, 1, 'sluice: cannot write to standard output: write EPIPE']);
    }
  });

  it('a reader of a FIFO --output that goes away (EPIPE): the run ends with a clear error, exit 1', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const run = start(['run', slowJob, '--output', fifo, '--log', 'json', '--log-interval', '3600000']);
    // The run opens the FIFO once its checks have passed; the open waits for this reader.
    const reader = createReadStream(fifo);
    let read = '';
    reader.on('data', (chunk) => (read += chunk.toString()));
    await until('an outcome is read from the FIFO', () => read.includes('\n'), run);
    reader.destroy();
    expect(await run.exited).toBe(1);
    expectBrokenPipe(run, `Cannot write output file ${fifo}`);
  });

  it("a stdout that is a full device (ENOSPC): the timer's failed batch ends the run, no line is counted, exit 1", async () => {
    const full = openSync('/dev/full', 'w');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [bin, 'run', slowJob, '--log', 'json', '--log-interval', '3600000'], {
        cwd: dir,
        stdio: ['ignore', full, 'pipe'],
      });
    } finally {
      closeSync(full);
    }
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('sluice run: the run ended early: Cannot write to standard output: ENOSPC');
    const summary = JSON.parse(stderr.split('\n').find((l) => l.startsWith('{"type":"summary"'))!) as Record<string, unknown>;
    expect(summary).toMatchObject({ errorCode: 'ENOSPC', lines: 0 });
  });

  function expectBrokenPipe(run: Running, what: string): void {
    const stderr = run.stderr();
    expect(stderr).toContain(`sluice run: the run ended early: ${what}: `);
    expect(stderr).not.toContain('internal error');
    expect(stderr).not.toContain("Unhandled 'error' event");
    expect(summaryOf(run)).toMatchObject({ errorCode: 'EPIPE', error: expect.stringContaining(what) });
  }
});
