/**
 * `sluice config [flags]`: prints the resolved config, each key with its value and source.
 * Exit code 0; 2 for a bad flag or config value (one line saying what, one line of hint).
 */
import { SluiceConfigError, SluiceUsageError } from '../../index.js';
import type { Env } from './env.js';
import { parseRunArgs, runFlagsHelp } from './flags.js';
import { formatConfig } from './print.js';
import { resolveConfig } from './resolve.js';

export interface ConfigCommandIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = 'Usage: sluice config [flags]';
const LAYERS = 'defaults < config file < SLUICE_* environment < flags';

export async function configCommand(argv: readonly string[], io: ConfigCommandIo, env: Env, cwd: string): Promise<number> {
  try {
    const { positionals, flags, help } = parseRunArgs(argv);
    if (help) {
      io.out(USAGE);
      io.out(`Prints the config a run would use and where each value comes from (${LAYERS}).`);
      io.out('');
      io.out('Flags:');
      for (const line of runFlagsHelp()) io.out(line);
      return 0;
    }
    if (positionals.length > 0) throw new SluiceUsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    for (const line of formatConfig(await resolveConfig({ flags, env, cwd }))) io.out(line);
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
    throw error;
  }
}
