/**
 * Journaled runs of the built `sluice` executable on the durable-run test job
 * (fixtures/jobs/durable-job.mjs), each test in a temporary folder with its input (`{ id, n }`
 * records) and output there; children a test left running are killed after it.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { killLeftovers, type Running, startBin } from './bin-child.js';

export const durableJob = fileURLToPath(new URL('../fixtures/jobs/durable-job.mjs', import.meta.url));

export interface DurableRuns {
  readonly dir: string;
  /** `DIR/in.jsonl`. */
  readonly input: string;
  /** `DIR/out.jsonl`, unless a test points it elsewhere. */
  out: string;
  /** Writes `n` records `{ id: "t<i>", n: i }` to the input. */
  writeInput(n: number): void;
  /** `sluice run JOB --input IN --output OUT --log none ARGS`, with the test's environment plus `env`. */
  run(args: readonly string[], env?: Record<string, string>): Running;
  /** `run`, waited for: its exit code and stderr. */
  exitOf(args: readonly string[], env?: Record<string, string>): Promise<{ code: number | null; err: string }>;
}

/** Registers the hooks that make and remove each test's folder; call at the top of a test file. */
export function useDurableRuns(prefix: string): DurableRuns {
  let dir = '';
  let out = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    out = join(dir, 'out.jsonl');
  });
  afterEach(async () => {
    killLeftovers();
    await rm(dir, { recursive: true, force: true });
  });
  const runs: DurableRuns = {
    get dir() {
      return dir;
    },
    get input() {
      return join(dir, 'in.jsonl');
    },
    get out() {
      return out;
    },
    set out(path) {
      out = path;
    },
    writeInput(n) {
      writeFileSync(runs.input, Array.from({ length: n }, (_, i) => `${JSON.stringify({ id: `t${i}`, n: i })}\n`).join(''));
    },
    run(args, env = {}) {
      return startBin(['run', durableJob, '--input', runs.input, '--output', runs.out, '--log', 'none', ...args], { cwd: dir, env });
    },
    async exitOf(args, env = {}) {
      const r = runs.run(args, env);
      const code = await r.exited;
      return { code, err: r.stderr() };
    },
  };
  return runs;
}
