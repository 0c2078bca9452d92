/**
 * The bench smoke: `npm run bench -- --quick` still runs every scenario end to end, and the
 * structural claims hold on its own results (buffered payloads within bound, memory flat in N by
 * counter, no task lost). No timing threshold: targets are reported by the bench, not asserted here.
 * And the bench's shape: it imports sluice only as a user does (by package name), and starts its
 * child processes through its one harness.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDER } from '../bench/harness/write.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Every scenario the runner knows (its one list): each must run in the smoke and report. */
const SCENARIOS = [...ORDER];

interface Check {
  readonly claim: string;
  readonly pass: boolean;
  readonly detail: string;
  readonly structural: boolean;
}

let dir: string;
let exit: { code: number; stderr: string };

/** Every TypeScript file under bench/ (results aside), relative to the repo root, with its import specifiers. */
function benchSources(): { file: string; imports: string[] }[] {
  const files = readdirSync(join(root, 'bench'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.startsWith('results'))
    .map((f) => join('bench', f));
  return files.map((file) => {
    const text = readFileSync(join(root, file), 'utf8');
    const imports = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1] ?? m[2]!);
    return { file, imports };
  });
}

describe('the bench sources', () => {
  it('import sluice by its package name only, never from src/ or dist/', () => {
    const sources = benchSources();
    expect(sources.length).toBeGreaterThan(30);
    const offending = sources.flatMap(({ file, imports }) =>
      imports.filter((i) => /(^|\/)(src|dist)\//.test(i)).map((i) => `${file}: ${i}`),
    );
    expect(offending).toEqual([]);
    const users = sources.filter(({ imports }) => imports.some((i) => i === 'sluice' || i === 'sluice/demo'));
    expect(users.length).toBeGreaterThan(5);
  });

  it('start child processes only through the one harness (bench/harness/child.ts); the simulator kit forks its own', () => {
    const spawning = benchSources()
      .filter(({ imports }) => imports.includes('node:child_process'))
      .map(({ file }) => file)
      .sort();
    // bench/kit/simulator/client.ts is the kit the tests use too: it owns its child's life cycle.
    expect(spawning).toEqual([join('bench', 'harness', 'child.ts'), join('bench', 'kit', 'simulator', 'client.ts')].sort());
  });
});

function checksOf(name: string): Check[] {
  return (JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { checks: Check[] }).checks;
}

describe('npm run bench -- --quick', () => {
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
