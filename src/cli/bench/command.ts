/**
 * `sluice bench JOB`: tuning runs. Runs the job on a sample of its input (the first `--sample`
 * tasks) once per setting of a matrix (`--threads 1,2 --io docs=8,16,adaptive`), each in a fresh
 * child process, `--repeat` times round-robin so drift on a shared machine hits every setting
 * alike; reports medians (tasks/s, peak RSS, peak buffered payloads, failures, the main thread's
 * utilisation: near 100%, more threads will not help), marks the best
 * setting with the `sluice run` command that reproduces it, and writes the runs and medians as JSON.
 *
 * Each run has `--run-timeout` seconds. A run past it is stopped (SIGTERM, then SIGKILL) and
 * recorded as timed out; the bench goes on with the other settings, since a timeout usually belongs
 * to the setting (a limit too low for the sample), but skips the later rounds of that setting, which
 * can no longer be the best. The exit code is then 1: the tuning is incomplete. A signal to the
 * bench stops the current run the same way and ends the bench (exit 130).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceError } from '../../index.js';
import { SluiceUsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { usageFailure } from '../run/usage.js';
import { runChild, type ChildResult, type ChildSummary } from './child.js';
import { flagsOf, labelOf, parseIoMatrix, parseThreads, settingsOf, type Setting } from './matrix.js';
import { runCommandLine } from './reproduce.js';
import { bestOf, formatTable, summarize, type SettingResult } from './table.js';
import { messageOf } from '../message.js';

export const BENCH_DEFAULTS = Object.freeze({ sample: 200, repeat: 1, json: 'sluice-bench.json', runTimeoutSeconds: 600 });

/** The longest timer Node keeps, in seconds (a longer one would fire at once). */
const MAX_RUN_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

const OPTIONS = {
  threads: { type: 'string', multiple: true },
  io: { type: 'string', multiple: true },
  sample: { type: 'string' },
  repeat: { type: 'string' },
  json: { type: 'string' },
  'run-timeout': { type: 'string' },
  input: { type: 'string' },
  'input-format': { type: 'string' },
  config: { type: 'string' },
  buffer: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = [
  'Usage: sluice bench JOB [options]',
  '',
  'Runs JOB on a sample of its input under every combination of the settings given, each run in a',
  'fresh process, and prints tasks/s, peak RSS, peak buffered payloads, failures and how busy the main',
  'thread was (near 100%, it is the bottleneck: more threads will not help) per setting,',
  'with the fastest setting that had no failures marked * and the `sluice run` command that reproduces it.',
  'Exit codes: 0 every run finished, 1 a run timed out, 2 bad usage or a run refused, 130 interrupted.',
  '',
  "  --threads LIST        threads of every cpu stage to try, e.g. 1,2 (default: the job's)",
  '  --io SERVICE=LIST     limits of a service (or io stage) to try: N, adaptive, aimd, vegas, gradient2;',
  '                        e.g. --io docs=8,16,adaptive (repeatable; docs=8,16,store=2,4 also works)',
  `  --sample N            tasks per run: the first N of the input (default: ${BENCH_DEFAULTS.sample})`,
  `  --repeat R            runs per setting; the table shows medians (default: ${BENCH_DEFAULTS.repeat})`,
  `  --json FILE           where the runs and medians go (default: ${BENCH_DEFAULTS.json})`,
  '  --run-timeout S       seconds one run may take; a run past it is stopped (SIGTERM, then SIGKILL)',
  `                        and marked timed out, and its setting is not run again (default: ${BENCH_DEFAULTS.runTimeoutSeconds})`,
  "  --input FILE          JSONL or CSV task file (default: the job's input)",
  '  --input-format F      auto, jsonl or csv (default: auto)',
  '  --config FILE         the config file every run reads (default: sluice.config.json if present)',
  "  --buffer N            bound of each buffer between stages (default: the job's)",
  '  -h, --help            this text',
];

export async function benchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  let job: string;
  let settings: Setting[];
  let sample: number;
  let repeat: number;
  let timeoutMs: number;
  let jsonFile: string;
  const passThrough: string[] = [];
  try {
    let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; strict: true; allowPositionals: true }>>;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: true });
    } catch (error) {
      throw new SluiceUsageError((error as Error).message, { cause: error });
    }
    const v = parsed.values;
    if (v.help === true) {
      for (const line of HELP) io.out(line);
      return 0;
    }
    if (parsed.positionals.length !== 1) throw new SluiceUsageError(`expected one job module, got ${parsed.positionals.length}`);
    job = parsed.positionals[0]!;
    settings = settingsOf(parseThreads(v.threads ?? []), parseIoMatrix(v.io ?? []));
    sample = positive('--sample', v.sample, BENCH_DEFAULTS.sample);
    repeat = positive('--repeat', v.repeat, BENCH_DEFAULTS.repeat);
    timeoutMs = seconds('--run-timeout', v['run-timeout'], BENCH_DEFAULTS.runTimeoutSeconds) * 1000;
    jsonFile = resolve(cwd, v.json ?? BENCH_DEFAULTS.json);
    for (const flag of ['input', 'input-format', 'config', 'buffer'] as const) {
      const value = v[flag];
      if (value !== undefined) passThrough.push(`--${flag}`, value);
    }
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'bench', error.message, HELP[0]);
    throw error;
  }

  const interrupt = new AbortController();
  let interruptedBy: string | undefined;
  const unsubscribe = io.onSignal?.((signal) => {
    interruptedBy ??= signal;
    if (!interrupt.signal.aborted) io.err(`sluice bench: ${signal}: stopping the run in progress`);
    interrupt.abort();
  });
  try {
    io.err(
      `sluice bench: ${settings.length} setting(s) × ${repeat} run(s) of ${sample} tasks each, one process per run, ${timeoutMs / 1000} s at most each`,
    );
    const runArgs = (setting: Setting): string[] => ['--limit', String(sample), ...passThrough, ...flagsOf(setting)];
    const runs: Array<{ setting: string; round: number; timedOut?: true; summary?: ChildSummary }> = [];
    const bySetting = new Map<Setting, ChildSummary[]>(settings.map((s) => [s, []]));
    const timedOut = new Set<Setting>();
    rounds: for (let round = 1; round <= repeat; round++) {
      for (const setting of settings) {
        if (timedOut.has(setting)) continue;
        let result: ChildResult;
        try {
          result = await runChild([job, ...runArgs(setting)], { cwd, env, timeoutMs, signal: interrupt.signal });
        } catch (error) {
          // The job itself is broken (it did not even produce a summary): stop, as `run` would.
          return usageFailure(io, 'bench', messageOf(error));
        }
        const label = `${labelOf(setting)} (run ${round}/${repeat})`;
        if (result.kind !== 'done') {
          if (result.kind === 'interrupted') break rounds;
          timedOut.add(setting);
          runs.push({ setting: labelOf(setting), round, timedOut: true });
          const how = result.killed ? 'SIGTERM, then SIGKILL: it outlived the grace period' : 'stopped with SIGTERM';
          io.err(`  ${label}: timed out after ${timeoutMs / 1000} s (${how}); this setting is not run again`);
          continue;
        }
        const { summary } = result;
        if (summary.exitCode === 2) return usageFailure(io, 'bench', `the run with ${labelOf(setting)} was refused (exit 2)`);
        bySetting.get(setting)!.push(summary);
        runs.push({ setting: labelOf(setting), round, summary });
        const main = summary.mainThreadUtilization !== undefined ? `, main thread ${Math.round(summary.mainThreadUtilization * 100)}%` : '';
        io.err(`  ${label}: ${summary.tasksPerSecond.toFixed(1)} tasks/s, ${summary.failed + summary.rejectedRecords} failed${main}`);
      }
    }
    const results: SettingResult[] = settings.map((s) => summarize(labelOf(s), flagsOf(s), bySetting.get(s)!, timedOut.has(s) ? 1 : 0));
    const best = bestOf(results);
    for (const line of formatTable(results, best)) io.out(line);
    if (best === undefined) io.out('No setting ran without failures or timeouts: none is marked.');
    else io.out(`Best: ${best.label} (${runCommandLine(job, ['--limit', String(sample), ...passThrough, ...best.flags])})`);
    await writeFile(
      jsonFile,
      `${JSON.stringify(
        {
          job,
          sample,
          repeat,
          runTimeoutSeconds: timeoutMs / 1000,
          machine: machine(),
          best: best?.label ?? null,
          ...(best !== undefined ? { bestCommand: runCommandLine(job, ['--limit', String(sample), ...passThrough, ...best.flags]) } : {}),
          ...(interruptedBy !== undefined ? { interruptedBy } : {}),
          results,
          runs,
        },
        null,
        2,
      )}\n`,
    );
    io.err(`sluice bench: wrote ${jsonFile}`);
    if (interruptedBy !== undefined) return 130;
    return timedOut.size > 0 ? 1 : 0;
  } finally {
    unsubscribe?.();
  }
}

function positive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SluiceUsageError(`expected ${flag} to be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function seconds(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > MAX_RUN_TIMEOUT_SECONDS) {
    throw new SluiceUsageError(
      `expected ${flag} to be a number of seconds above 0 and at most ${MAX_RUN_TIMEOUT_SECONDS}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function machine(): Record<string, unknown> {
  return { node: process.version, platform: process.platform, arch: process.arch };
}
