/**
 * Scenario `durable`: what the journal of a `sluice run --output FILE` costs, side by side with
 * journaling off, in one run: the maximum no-op throughput (journaled, journaled with the job's own
 * task keys, off, `--durable`), the CPU at a paced 10k tasks/s (journaled, off), and the start-up of
 * a resume of a 1,000,000-task journal.
 *
 * Method: every run is the built CLI in a fresh child process (bench/durable/cli.ts, through the
 * bench's child harness) running a plain-ESM job of this folder (noop-job.mjs, paced-job.mjs) that
 * imports sluice by package name. Rounds run the modes back to back, their order rotated per round.
 * The resumed journal is built in-process with the library's `openJournal` (bench/durable/journal.ts)
 * rather than by running a million tasks through the CLI.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJournalStatus, type Fingerprint } from 'sluice';
import { int } from '../harness/format.js';
import { rotate } from '../harness/stats.js';
import type { Scenario } from '../harness/types.js';
import { countOutput, keyOf, NOOP_JOB, PACED_JOB, runCli, type Mode } from './cli.js';
import { buildJournal, commitCost, doneKeys, fingerprintOf, type BuiltJournal, type CommitCost } from './journal.js';
import { checks, figures, tables, type RunRecord, type StartRecord, type Targets } from './report.js';

const TARGETS: Targets = { ratio: 0.8, durableRate: 50_000, cpuPctOfCore: 5, pacedRateShare: 0.99, resumeMs: 3000 };
/** Tasks of the no-op job at once (its io stage's concurrency). */
const CONCURRENCY = 64;
const RATE = 10_000;
const TIMEOUT_MS = 60_000;
/** Records per commit of the commits timed alone: the CLI's batch at a paced rate. */
const COMMIT_BATCH = 100;
/** Records per commit while building the resumed journal. */
const BUILD_BATCH = 1000;

interface Sizes {
  /** Tasks of a journaled, a keyed and an off no-op run. */
  readonly noop: number;
  /** Tasks of a `--durable` no-op run. */
  readonly durable: number;
  /** The paced window, s. */
  readonly pacedSeconds: number;
  /** Settled tasks in the resumed journal. */
  readonly journal: number;
  /** Tasks left to run after them (and the tasks of a new run, for comparison). */
  readonly left: number;
  /** Commits timed on their own. */
  readonly commits: number;
}

const FULL: Sizes = { noop: 150_000, durable: 40_000, pacedSeconds: 4, journal: 1_000_000, left: 1000, commits: 1000 };
const QUICK: Sizes = { noop: 12_000, durable: 10_000, pacedSeconds: 0.5, journal: 100_000, left: 1000, commits: 200 };

export const scenario: Scenario = async (options) => {
  const sizes = options.quick ? QUICK : FULL;
  const rounds = Math.max(1, options.runs);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-durable-'));
  const runs: RunRecord[] = [];
  const starts: StartRecord[] = [];
  const t0 = performance.now();
  const env = (tasks: number): Record<string, string> => ({
    SLUICE_BENCH_TASKS: String(tasks),
    SLUICE_BENCH_CONCURRENCY: String(CONCURRENCY),
  });

  /** One run of `job` in `mode`, its output counted, its journal read; the files removed after. */
  const once = async (round: number, job: RunRecord['job'], mode: Mode, n: number): Promise<RunRecord> => {
    const output = join(dir, `${job}-${mode}-${round}.jsonl`);
    const result = await runCli({
      job: job === 'noop' ? NOOP_JOB : PACED_JOB,
      mode,
      output,
      env:
        job === 'noop'
          ? env(n)
          : {
              SLUICE_BENCH_RATE: String(RATE),
              SLUICE_BENCH_SECONDS: String(sizes.pacedSeconds),
              SLUICE_BENCH_CONCURRENCY: String(CONCURRENCY),
            },
      timeoutMs: TIMEOUT_MS,
    });
    const count = countOutput(output, n);
    const status = mode === 'off' ? undefined : readJournalStatus(`${output}.sluice`);
    // The no-op tasks done under the job's own keys (after the status: this opens the journal as a resume).
    const keyed = status !== undefined && job === 'noop' && result.code === 0 ? doneKeys(`${output}.sluice`, n, keyOf) : undefined;
    rmSync(output, { force: true });
    rmSync(`${output}.sluice`, { recursive: true, force: true });
    const r: RunRecord = {
      round,
      job,
      mode,
      n,
      result,
      count,
      ...(status !== undefined
        ? {
            journal: {
              done: status.done,
              finished: status.finished,
              outputLength: status.outputLength,
              ...(keyed !== undefined ? { keyedDone: keyed } : {}),
            },
          }
        : {}),
    };
    const s = result.summary;
    const cpu = result.pace ? `, CPU ${((100 * result.pace.cpuMs) / result.pace.wallMs).toFixed(1)}% of a core` : '';
    options.log(
      `durable: round ${round + 1}/${rounds} ${job} ${mode} N=${int(n)}: ${s ? `${int(s.tasksPerSecond)} tasks/s${cpu}` : (result.note ?? 'no summary')}, ${int(count.lines)} lines`,
    );
    return r;
  };

  /**
   * A journaled no-op run of `left` tasks: a new one, or a resume of the journal copied from
   * `template`. `inspect` sees its output path before its files are removed.
   */
  const start = async (
    round: number,
    kind: StartRecord['kind'],
    template: string | undefined,
    journalTasks: number,
    inspect?: (output: string) => void,
  ): Promise<StartRecord> => {
    const folder = join(dir, `${kind}-${round}`);
    if (template !== undefined) cpSync(template, folder, { recursive: true });
    else mkdirSync(folder);
    const output = join(folder, 'out.jsonl');
    const result = await runCli({
      job: NOOP_JOB,
      mode: 'journaled',
      output,
      env: env(journalTasks + sizes.left),
      flags: kind === 'resume' ? ['--resume'] : [],
      mark: true,
      timeoutMs: TIMEOUT_MS,
    });
    const count = countOutput(output, journalTasks + sizes.left);
    inspect?.(output);
    rmSync(folder, { recursive: true, force: true });
    const at = (ms: number | undefined): string => `${((ms ?? Number.NaN) / 1000).toFixed(2)} s`;
    options.log(
      `durable: round ${round + 1}/${rounds} ${kind === 'resume' ? `resume of ${int(journalTasks)}` : 'new run'}: ` +
        `first task at ${at(result.firstMs)}, exit at ${at(result.exitMs)}${result.note ? ` (${result.note})` : ''}`,
    );
    return { round, kind, journalTasks, left: sizes.left, result, count };
  };

  let built: BuiltJournal = { tasks: 0, wallMs: Number.NaN, outputBytes: 0 };
  let cost: CommitCost | undefined;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of rotate<Mode>(['journaled', 'keyed', 'off', 'durable'], round)) {
        runs.push(await once(round, 'noop', mode, mode === 'durable' ? sizes.durable : sizes.noop));
      }
      for (const mode of rotate<Mode>(['journaled', 'off'], round)) {
        runs.push(await once(round, 'paced', mode, Math.round(RATE * sizes.pacedSeconds)));
      }
    }
    // A new run's journal holds the fingerprint the CLI computes for this job: the built journal takes it.
    let fingerprint: Fingerprint | undefined;
    starts.push(await start(0, 'new', undefined, 0, (output) => (fingerprint = fingerprintOf(`${output}.sluice`))));
    if (fingerprint === undefined) throw new Error('durable: the first new run left no journal to take its fingerprint from');
    cost = commitCost(join(dir, 'commits'), fingerprint, sizes.commits, COMMIT_BATCH, CONCURRENCY);
    const template = join(dir, 'template');
    mkdirSync(template);
    built = buildJournal(join(template, 'out.jsonl'), fingerprint, sizes.journal, BUILD_BATCH);
    options.log(
      `durable: built a journal of ${int(built.tasks)} settled tasks in ${(built.wallMs / 1000).toFixed(1)} s (${int(built.outputBytes / 2 ** 20)} MiB of output)`,
    );
    for (let round = 0; round < rounds; round++) {
      if (round > 0) starts.push(await start(round, 'new', undefined, 0));
      starts.push(await start(round, 'resume', template, sizes.journal));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const elapsedMs = performance.now() - t0;

  const f = figures(runs, starts);
  const method = [
    `Every run is \`sluice run JOB\` of the built package in a fresh child process (through the bench's child harness), with \`--log json\` (its summary gives tasks/s: tasks from the first pull to the last outcome). The jobs are plain ESM in bench/durable/, importing sluice by package name, so no TypeScript loader runs: one io stage that returns its task, concurrency ${CONCURRENCY}, over the job's own input of the numbers 0..N-1 (so task keys are input positions, except in the keyed mode). Each round runs the modes back to back, their order rotated per round; ${rounds} round(s), medians over rounds, ratios and differences paired within a round.`,
    '',
    `- **journaled**: \`--output FILE\`, the default: lines written in batches (100 outcomes or 20 ms, one write each), each then committed to the SQLite journal in \`FILE.sluice/\`.`,
    "- **off**: the CLI has no way to write a file without a journal, so journaling off is `--output -` with the child's stdout given a file by the harness: the same lines in the same file, written in the same batches (100 lines or 20 ms, one write call each), so the ratio journaled/off is the journal's own cost: its commits, and the bookkeeping of the tasks in flight. The journal's commits are also timed apart below.",
    "- **keyed**: journaled exactly as above, but the job gives its own task keys (its `key` gives task i the key `doc-i`, as a job whose tasks carry ids would). The journal then keeps one row per done task in its SQLite table (a B-tree insert in the batch's commit), where position keys (the default, the other journaled modes) keep none: the watermark and a small log of the positions done above it record those. So keyed/off is what a job with its own keys pays, journaled/off what a job with position keys pays. After each no-op run the bench opens its journal and looks up every task's `doc-` key: a keyed run's must all be done, a position-keyed run's none.",
    '- **`--durable`**: journaled (position keys), with the output fsynced (fdatasync) before each commit and the journal committing with a full sync.',
    '',
    `**Maximum throughput**: N = ${int(sizes.noop)} tasks (journaled, keyed and off; ${int(sizes.durable)} with \`--durable\`), as fast as they go. **Paced**: the job's input releases ${int(RATE)} tasks/s for ${sizes.pacedSeconds} s (every 1 ms tick releases the tasks due by the clock); the job measures its process's CPU (\`process.cpuUsage()\`, user + sys, every thread) over the paced window, from the first task released to the last, and the table gives it per second of that window. **The journal's commits alone**: ${int(sizes.commits)} commits of ${COMMIT_BATCH} records (position keys) with ${CONCURRENCY} keys in flight, in the bench's process, into a new journal; at ${int(RATE)} tasks/s a batch fills at ${COMMIT_BATCH} outcomes (every 10 ms, before its 20 ms timer), so ${RATE / COMMIT_BATCH} commits/s.`,
    '',
    `**Start-up**: the resumed journal holds ${int(sizes.journal)} settled tasks. It is built fast, in-process, with the library's \`openJournal\`: the fingerprint taken from the journal of a real new run of the same job, ${int(sizes.journal)} \`done\` records committed in batches of ${BUILD_BATCH} after their lines were written to the output (the lines the CLI writes), and the run left unfinished, as if killed. Each round resumes a fresh copy of it with \`--resume\` over an input of ${int(sizes.journal)} + ${int(sizes.left)} tasks (the job's generator from 0: the settled ones are skipped by the journal's watermark, the last ${int(sizes.left)} run), and is timed from the spawn to the job's stage seeing its first task (a \`FIRST\` line on stdout, free in a journaled run) and to the exit. A new run of ${int(sizes.left)} tasks (no journal before) gives the start-up that any run pays. Start-up is measured with position keys only: a resume of a keyed journal (a lookup per task) is not measured here.`,
  ].join('\n');
  return {
    name: 'durable',
    title: 'Durable runs: the journal against journaling off',
    method,
    markdown: cost !== undefined ? tables(f, runs, starts, cost, RATE, built) : '(the runs did not get as far as the journal measures)',
    checks: checks(f, runs, starts, TARGETS),
    charts: [],
    json: {
      parameters: {
        ...sizes,
        concurrency: CONCURRENCY,
        rate: RATE,
        commitBatch: COMMIT_BATCH,
        buildBatch: BUILD_BATCH,
        rounds,
        quick: options.quick,
        targets: TARGETS,
      },
      elapsedMs,
      figures: f,
      commitCost: cost,
      builtJournal: built,
      runs,
      starts,
    },
  };
};
