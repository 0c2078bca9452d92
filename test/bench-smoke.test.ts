/**
 * The bench smoke: `npm run bench -- --quick` still runs every scenario end to end, and the
 * structural claims hold on its own results (buffered payloads within bound, memory flat in N by
 * counter, no task lost). No timing threshold: targets are reported by the bench, not asserted here.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS = ['pipeline', 'memory', 'tail', 'shared', 'adaptive', 'overhead', 'bridge'];

interface Check {
  readonly claim: string;
  readonly pass: boolean;
  readonly detail: string;
  readonly structural: boolean;
}

let dir: string;
let exit: { code: number; stderr: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-bench-smoke-'));
  exit = await new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/main.ts', '--quick', '--results', dir],
      { cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: 400_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
    );
  });
}, 420_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function checksOf(name: string): Check[] {
  return (JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { checks: Check[] }).checks;
}

describe('npm run bench -- --quick', () => {
  it('runs every scenario and exits 0', () => {
    expect(exit.stderr.split('\n').filter((l) => l.includes('FAIL:'))).toEqual([]);
    expect(exit.code).toBe(0);
    for (const name of SCENARIOS) expect(existsSync(join(dir, `${name}.json`)), `${name}.json`).toBe(true);
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    for (const name of SCENARIOS) expect(summary).toContain(`id="${name}"`);
  });

  it.each(SCENARIOS)('%s: every structural claim holds, and there is at least one', (name) => {
    const structural = checksOf(name).filter((c) => c.structural);
    expect(structural.length).toBeGreaterThan(0);
    for (const c of structural) expect({ claim: c.claim, pass: c.pass, detail: c.detail }).toMatchObject({ pass: true });
  });

  it('checks buffered payloads against their bound and memory flat in N by counter', () => {
    const claims = [...checksOf('pipeline'), ...checksOf('memory')].filter((c) => c.structural).map((c) => c.claim.toLowerCase());
    expect(claims.some((c) => c.includes('buffered') && c.includes('bound'))).toBe(true);
    expect(checksOf('memory').some((c) => c.structural && /flat|every n|all n|at every/i.test(c.claim))).toBe(true);
  });

  it('renders its charts as SVG', () => {
    const md = readFileSync(join(dir, 'summary.md'), 'utf8');
    const charts = [...md.matchAll(/!\[[^\]]*\]\(([^)]+\.svg)\)/g)].map((m) => m[1]!);
    expect(charts.length).toBeGreaterThanOrEqual(3);
    for (const file of charts) expect(readFileSync(join(dir, file), 'utf8').startsWith('<svg')).toBe(true);
  });
});
