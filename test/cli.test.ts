/** The `sluice` command, in-process and through its built executable. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  // One io.out call may carry several lines (a batch of outcomes): one entry per line, as printed.
  return { out, err, io: { out: (l: string) => out.push(...l.split('\n')), err: (l: string) => err.push(l) } };
}

describe('sluice main(argv, io)', () => {
  it('prints usage with --help and exits 0', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    const help = c.out.join('\n');
    for (const command of ['run', 'bench', 'config', 'demo']) expect(help).toContain(command);
    // Every flag of run, with its default.
    for (const flag of [
      '--input',
      '--output',
      '--threads',
      '--io',
      '--buffer',
      '--[no-]ordered',
      '--limit',
      '--log',
      '--metrics-port',
      '--config',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toContain('default: 1000');
  });

  it('prints the package version', async () => {
    const c = capture();
    expect(await main(['--version'], c.io)).toBe(0);
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(c.out).toEqual([pkg.version]);
  });

  it('rejects an unknown command and no command with exit code 2', async () => {
    const c = capture();
    expect(await main(['frobnicate'], c.io)).toBe(2);
    expect(c.err[0]).toContain('"frobnicate"');
    expect(await main([], capture().io)).toBe(2);
  });
});

describe('the built bin', () => {
  it('runs the demo through `sluice demo`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
    try {
      const bin = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));
      const out = join(dir, 'out.jsonl');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [bin, 'demo', '--tasks', '12', '--size', '4096', '--latency', '1', '--threads', '1', '--out', out],
        { timeout: 120_000 },
      );
      expect(stdout).toMatch(/completed\s+12/);
      const lines = (await readFile(out, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(12);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
