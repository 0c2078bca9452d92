/**
 * `sluice run`, `sluice config` and `sluice bench` in-process through main(argv, io): job modules,
 * input files, config layers and flags, and every kind of bad input (exit code 2 or 1, a message
 * that names what was wrong, and the rest of the job still runs where it can).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../src/cli/main.js';

const job = fileURLToPath(new URL('./fixtures/jobs/double-job.ts', import.meta.url));
const noDefault = fileURLToPath(new URL('./fixtures/jobs/no-default.ts', import.meta.url));
const plainJob = fileURLToPath(new URL('./fixtures/jobs/plain-job.mjs', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-run-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture(env: Record<string, string> = {}): { out: string[]; err: string[]; io: CliIo } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd: dir } };
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
  it("runs a .ts job on its own input and writes one JSON line per outcome, then a summary", async () => {
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
    expect(await main(['run', job, '--input', input, '--log', 'none'], c.io)).toBe(1);
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
    expect(c.err.join('\n')).toMatch(/3 completed, 3 failed \(2 input records\)/);
  });

  it('reads CSV task files', async () => {
    const input = join(dir, 'tasks.csv');
    await writeFile(input, 'n,name\n1,a\n2,b\n');
    const c = capture();
    expect(await main(['run', job, '--input', input, '--log', 'none'], c.io)).toBe(0);
    expect(jsonLines(c.out).map((l) => [l.line, l.value!.n]).sort()).toEqual([
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
    expect(jsonLines(c.out).map((l) => (l.value as unknown as { square: number }).square).sort((a, b) => a - b)).toEqual([1, 4, 9, 16, 25]);
  });

  it('lists every flag with its default in --help', async () => {
    const c = capture();
    expect(await main(['run', '--help'], c.io)).toBe(0);
    const help = c.out.join('\n');
    for (const flag of ['--input', '--output', '--threads', '--io', '--buffer', '--[no-]ordered', '--config', '--log', '--metrics-port', '--limit']) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('default');
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
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      results: Array<{ label: string; failures: number; peakBuffered: number; peakRssMiB: number; tasksPerSecond: number }>;
      runs: Array<{ summary: { tasks: number } }>;
      best: string;
    };
    expect(report.results).toHaveLength(4);
    expect(report.runs.every((r) => r.summary.tasks === 10)).toBe(true);
    for (const r of report.results) {
      expect(r.failures).toBe(0);
      expect(r.peakRssMiB).toBeGreaterThan(0);
      expect(r.tasksPerSecond).toBeGreaterThan(0);
    }
    expect(report.results.map((r) => r.label)).toContain(report.best);
  });

  it('rejects a bad matrix value before running anything', async () => {
    const c = capture();
    expect(await main(['bench', job, '--io', 'calc=fast'], c.io)).toBe(2);
    expect(c.err[0]).toContain('io.calc');
  });
});
