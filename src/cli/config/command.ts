/**
 * `sluice config [JOB] [flags]`: prints the resolved config, each key with its value and source.
 * With a job module, it also loads the job, builds it with that config (the job's `setup` and
 * `stages` run, as for `sluice run`, so an `--io` name the job does not declare is refused the same
 * way), prints what the job declares with the settings applied, and closes the job on every path
 * (the close has `RUN_DEFAULTS.closeTimeoutMs`, as in `sluice run`).
 * Exit code 0; 2 for a bad flag, config value or job module (one line saying what, one line of hint).
 */
import { SluiceError } from '../../index.js';
import { SluiceConfigError, SluiceUsageError } from '../errors.js';
import { loadJob } from '../job/load.js';
import { within } from '../run/bounded.js';
import { RUN_DEFAULTS } from '../run/defaults.js';
import { jobSession, type JobSession } from '../job/session.js';
import type { Env } from './env.js';
import { parseRunArgs, runFlagsHelp } from './flags.js';
import { formatConfig, formatJob } from './print.js';
import { resolveConfig } from './resolve.js';

export interface ConfigCommandIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = 'Usage: sluice config [JOB] [flags]';
const LAYERS = 'defaults < config file < SLUICE_* environment < flags';

export async function configCommand(argv: readonly string[], io: ConfigCommandIo, env: Env, cwd: string): Promise<number> {
  let session: JobSession | undefined;
  try {
    const { positionals, flags, help } = parseRunArgs(argv);
    if (help) {
      io.out(USAGE);
      io.out(`Prints the config a run would use and where each value comes from (${LAYERS}).`);
      io.out('With JOB (a job module, as for `sluice run`), also checks the settings against the job');
      io.out('(its setup() and stages run, then close()) and prints its services and stages as a run would build them.');
      io.out('');
      io.out('Flags:');
      for (const line of runFlagsHelp()) io.out(line);
      return 0;
    }
    if (positionals.length > 1)
      throw new SluiceUsageError(`expected at most one job module, got ${positionals.length}: ${positionals.join(' ')}`);
    const resolved = await resolveConfig({ flags, env, cwd });
    const lines = formatConfig(resolved);
    const file = positionals[0];
    if (file !== undefined) {
      const { job } = await loadJob(file, cwd);
      session = jobSession(job, file);
      const built = await session.build(resolved.config, resolved.sources);
      lines.push(
        '',
        ...formatJob({
          name: job.name ?? file,
          file,
          declaredServices: job.services ?? {},
          built,
          settings: resolved.config,
          sources: resolved.sources,
        }),
      );
    }
    for (const line of lines) io.out(line);
    return 0;
  } catch (error) {
    if (error instanceof SluiceUsageError) {
      io.err(`sluice config: ${error.message}`);
      io.err('Run `sluice config --help` for the flags.');
      return 2;
    }
    if (error instanceof SluiceConfigError) {
      io.err(`sluice config: ${error.message}`);
      io.err(`Fix that value; layers, later winning: ${LAYERS}.`);
      return 2;
    }
    if (error instanceof SluiceError) {
      io.err(`sluice config: ${error.message}`);
      io.err('Run `sluice config --help` for the usage.');
      return 2;
    }
    throw error;
  } finally {
    if (session !== undefined) await closeJob(session, io);
  }
}

/** The job's close, reported on stderr when it fails or outlives its time (as `sluice run` does); never throws. */
async function closeJob(session: JobSession, io: ConfigCommandIo): Promise<void> {
  const closing = session.close();
  const settled = await within(closing, RUN_DEFAULTS.closeTimeoutMs);
  if (settled.status === 'failed') {
    io.err(`sluice config: the job's close() failed: ${settled.error instanceof Error ? settled.error.message : String(settled.error)}`);
  } else if (settled.status === 'timeout') {
    closing.catch(() => undefined);
    io.err(`sluice config: the job's close() did not finish within ${RUN_DEFAULTS.closeTimeoutMs / 1000} s; going on without it`);
  }
}
