/**
 * `sluice bench JOB`: tuning runs. Runs the job on a sample of its input (the first `--sample`
 * tasks) once per setting of a matrix (`--threads 1,2 --io docs=8,16,adaptive`), each in a fresh
 * child process, `--repeat` times round-robin so drift on a shared machine hits every setting
 * alike; reports medians (tasks/s, peak RSS, peak buffered payloads, failures), marks the best
 * setting, and writes the runs and medians as JSON.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceError, SluiceUsageError } from '../../index.js';
import type { CliIo } from '../io.js';
import { usageFailure } from '../run/usage.js';
import { runChild, type ChildSummary } from './child.js';
import { flagsOf, labelOf, parseIoMatrix, parseThreads, settingsOf, type Setting } from './matrix.js';
import { bestOf, formatTable, summarize, type SettingResult } from './table.js';

export const BENCH_DEFAULTS = Object.freeze({ sample: 200, repeat: 1, json: 'sluice-bench.json' });

const OPTIONS = {
  threads: { type: 'string', multiple: true },
  io: { type: 'string', multiple: true },
  sample: { type: 'string' },
  repeat: { type: 'string' },
  json: { type: 'string' },
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
  'fresh process, and prints tasks/s, peak RSS, peak buffered payloads and failures per setting,',
  'with the fastest setting that had no failures marked *.',
  '',
  '  --threads LIST        threads of every cpu stage to try, e.g. 1,2 (default: the job\'s)',
  '  --io SERVICE=LIST     limits of a service (or io stage) to try: N, adaptive, aimd, vegas, gradient2;',
  '                        e.g. --io docs=8,16,adaptive (repeatable; docs=8,16,store=2,4 also works)',
  `  --sample N            tasks per run: the first N of the input (default: ${BENCH_DEFAULTS.sample})`,
  `  --repeat R            runs per setting; the table shows medians (default: ${BENCH_DEFAULTS.repeat})`,
  `  --json FILE           where the runs and medians go (default: ${BENCH_DEFAULTS.json})`,
  '  --input FILE          JSONL or CSV task file (default: the job\'s input)',
  '  --input-format F      auto, jsonl or csv (default: auto)',
  '  --config FILE         the config file every run reads (default: sluice.config.json if present)',
  '  --buffer N            bound of each buffer between stages (default: the job\'s)',
  '  -h, --help            this text',
];

export async function benchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  let job: string;
  let settings: Setting[];
  let sample: number;
  let repeat: number;
  let jsonFile: string;
  const passThrough: string[] = [];
  try {
    let parsed;
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
    jsonFile = resolve(cwd, v.json ?? BENCH_DEFAULTS.json);
    for (const flag of ['input', 'input-format', 'config', 'buffer'] as const) {
      const value = v[flag];
      if (value !== undefined) passThrough.push(`--${flag}`, value);
    }
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'bench', error.message, HELP[0]);
    throw error;
  }

  io.err(`sluice bench: ${settings.length} setting(s) × ${repeat} run(s) of ${sample} tasks each, one process per run`);
  const runs: Array<{ setting: string; round: number; summary: ChildSummary }> = [];
  const bySetting = new Map<Setting, ChildSummary[]>(settings.map((s) => [s, []]));
  for (let round = 1; round <= repeat; round++) {
    for (const setting of settings) {
      let summary: ChildSummary;
      try {
        summary = await runChild([job, '--limit', String(sample), ...passThrough, ...flagsOf(setting)], { cwd, env });
      } catch (error) {
        // The job itself is broken (it did not even produce a summary): stop, as `run` would.
        return usageFailure(io, 'bench', error instanceof Error ? error.message : String(error));
      }
      if (summary.exitCode === 2) return usageFailure(io, 'bench', `the run with ${labelOf(setting)} was refused (exit 2)`);
      bySetting.get(setting)!.push(summary);
      runs.push({ setting: labelOf(setting), round, summary });
      io.err(`  ${labelOf(setting)} (run ${round}/${repeat}): ${summary.tasksPerSecond.toFixed(1)} tasks/s, ${summary.failed + summary.rejectedRecords} failed`);
    }
  }
  const results: SettingResult[] = settings.map((s) => summarize(labelOf(s), flagsOf(s), bySetting.get(s)!));
  const best = bestOf(results);
  for (const line of formatTable(results, best)) io.out(line);
  if (best === undefined) io.out('No setting ran without failures: none is marked.');
  else io.out(`Best: ${best.label} (sluice run ${job} ${best.flags.join(' ')})`);
  await writeFile(
    jsonFile,
    `${JSON.stringify({ job, sample, repeat, machine: machine(), best: best?.label ?? null, results, runs }, null, 2)}\n`,
  );
  io.err(`sluice bench: wrote ${jsonFile}`);
  return 0;
}

function positive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SluiceUsageError(`expected ${flag} to be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function machine(): Record<string, unknown> {
  return { node: process.version, platform: process.platform, arch: process.arch };
}
