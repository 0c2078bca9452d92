/**
 * `sluice demo [flags]` (and `npm run demo`): runs the demo job on an embedded document service
 * and prints a summary on stdout; the output file gets one JSON line per synthesized document.
 * Exit codes: 0 every task completed, 1 some failed (or the run ended early), 2 bad flags, an
 * output that cannot be written or a broken job, 130 interrupted (SIGINT/SIGTERM, as `sluice run`).
 */
import { SluiceError } from '../../index.js';
import type { CliIo } from '../io.js';
import { messageOf } from '../message.js';
import { EXIT } from '../run/command.js';
import { jobErrorOf } from '../run/job-error.js';
import { usageFailure } from '../run/usage.js';
import { DEMO_USAGE, parseDemoArgs, type DemoOptions } from './options.js';
import { runDemo, type DemoRun } from './run.js';
import { formatSummary } from './summary.js';

export async function demoCommand(argv: readonly string[], io: CliIo): Promise<number> {
  let options: DemoOptions | 'help';
  try {
    options = parseDemoArgs(argv);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'demo', error.message, DEMO_USAGE);
    throw error;
  }
  if (options === 'help') {
    io.out(DEMO_USAGE);
    return EXIT.ok;
  }
  // While stdout carries the output lines (`--out -`), everything else that writes there goes to stderr.
  const restoreStdout = options.out === '-' ? io.redirectStdout?.() : undefined;
  let run: DemoRun;
  try {
    run = await runDemo(options, io);
  } catch (error) {
    if (error instanceof SluiceError) return usageFailure(io, 'demo', error.message);
    throw error;
  } finally {
    restoreStdout?.();
  }
  const { summary } = run;
  const jobError = jobErrorOf(run.error);
  if (jobError !== undefined) io.err(`sluice demo: the demo is broken (is the package complete?): ${jobError.message}`);
  else if (run.error !== undefined) io.err(`sluice demo: the run ended early: ${messageOf(run.error)}`);
  // With `--out -` stdout carries the output lines only, and the summary goes to stderr.
  const print = (line: string): void => (options.out === '-' ? io.err(line) : io.out(line));
  for (const line of formatSummary(summary)) print(line);
  for (const f of summary.failures) io.err(`  task #${f.index} failed in ${f.stage}: ${f.message}`);
  if (run.interruptedBy !== undefined) {
    io.err(`sluice demo: interrupted by ${run.interruptedBy}: ${run.interrupted} started task(s) aborted; the rest was not started`);
  }
  if (jobError !== undefined) return EXIT.usage;
  if (run.interruptedBy !== undefined) return EXIT.interrupted;
  return summary.completed === summary.tasks && summary.failed === 0 && run.error === undefined ? EXIT.ok : EXIT.failed;
}
