/**
 * The part of `sluice run` that needs no job: the arguments, the layered config, the input file
 * (readable, and JSON Lines when it says .json), the output path (writable, not the input), and
 * the output's journal (another run holds it, a run did not finish, an output no journal accounts
 * for). Nothing is opened for writing here, so a refused run leaves the user's files as they were.
 */
import { SluiceError } from '../../index.js';
import { parseRunArgs, runFlagsHelp } from '../config/flags.js';
import { resolveConfig, type ResolvedConfig } from '../config/resolve.js';
import type { CliIo } from '../io.js';
import { probeInput } from '../io/open-input.js';
import { checkOutput } from '../io/output.js';
import { EXIT } from './exit.js';
import { planJournal, type JournalPlan } from './journal-plan.js';
import { usageFailure } from './usage.js';
import { formatSource, SluiceUsageError } from '../errors.js';

const USAGE_LINE = 'Usage: sluice run JOB [options]   (JOB: a .js or .ts module whose default export is defineJob({...}))';
const INPUT_NOTE = 'Input files: .jsonl, .ndjson and .json are JSON Lines (one task per line); .csv is CSV with a header row.';
const JOURNAL_NOTE =
  'With --output FILE the run is journaled in FILE.sluice/ (resumable after a crash, one run at a time; ' +
  'failed tasks also go to FILE.sluice/dead-letter.jsonl; --retry-failed runs them again): see `sluice status --help`.';

export interface PreparedRun {
  readonly resolved: ResolvedConfig;
  /** The job module as the command line names it. */
  readonly jobFile: string;
  /** The input is a regular file: it can be counted in the background without taking records from the run. */
  readonly countable: boolean;
  /** The journal of a run to an output file; undefined for stdout. */
  readonly plan: JournalPlan | undefined;
}

/** The run to do, or the exit code when there is none (help, or a refusal already reported). */
export async function prepareRun(argv: readonly string[], io: CliIo): Promise<PreparedRun | number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  try {
    const parsed = parseRunArgs(argv);
    if (parsed.help) {
      for (const line of [USAGE_LINE, INPUT_NOTE, JOURNAL_NOTE, '', ...runFlagsHelp()]) io.out(line);
      return EXIT.ok;
    }
    if (parsed.positionals.length !== 1) {
      return usageFailure(io, 'run', `expected one job module, got ${parsed.positionals.length}`, USAGE_LINE);
    }
    const resolved = await resolveConfig({ flags: parsed.flags, env, cwd });
    const { input, inputFormat, output } = resolved.config;
    const countable = input !== undefined && (await probeInput(input, inputFormat)).regular;
    checkOutput(output, input);
    const plan = planJournal(output, parsed.journal);
    if (plan?.mode === 'retry' && resolved.config.limit !== undefined) {
      const source = resolved.sources.limit;
      throw new SluiceUsageError(
        `limit ${resolved.config.limit}${source === undefined ? '' : ` (from ${formatSource(source)})`} does not go with a retry of ` +
          'the failed tasks: a retry runs every task that failed; run it without a limit',
      );
    }
    if (plan?.nothing !== undefined) {
      io.err(`sluice run: ${plan.nothing}`);
      return EXIT.ok;
    }
    return { resolved, jobFile: parsed.positionals[0]!, countable, plan };
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'run', error.message, USAGE_LINE);
    throw error;
  }
}
