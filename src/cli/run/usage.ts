/** One way to report bad usage, config or job modules: a line naming the problem, a hint, exit 2. */
import type { CliIo } from '../io.js';

export function usageFailure(io: Pick<CliIo, 'err'>, command: string, message: string, usage?: string): number {
  io.err(`sluice ${command}: ${message}`);
  if (usage !== undefined) io.err(usage);
  io.err(`Run \`sluice ${command} --help\` for the options.`);
  return 2;
}
