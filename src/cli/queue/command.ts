/**
 * The frame every queue command but `worker` runs in: its arguments parsed, `--help`, its
 * positionals checked, the layered config resolved, and an io that hides the Redis password (from
 * SLUICE_REDIS_URL first, then the resolved config's) in everything it prints. A `SluiceError`
 * from any step, the command's own included, is a refusal: one line and exit 2.
 */
import type { QueueTarget } from '../../index.js';
import { ENV_VARS } from '../config/env.js';
import { resolveConfig } from '../config/resolve.js';
import type { SluiceConfig } from '../config/schema.js';
import type { CliIo } from '../io.js';
import { EXIT } from '../run/exit.js';
import { usageFailure } from '../run/usage.js';
import {
  parseQueueArgs,
  queueFailure,
  queueFlagsHelp,
  queueTarget,
  redactingIo,
  type ParsedQueueArgs,
  type QueueCommandSpec,
} from './args.js';

export interface QueueCommandDef {
  /** The command's name in messages: `sluice NAME: ...`. */
  readonly name: string;
  readonly spec: QueueCommandSpec;
  /** The help text above the flags. */
  readonly help: readonly string[];
  readonly usage: string;
  /** What is wrong with the positionals and the command's own flags; undefined when nothing is. */
  readonly check: (parsed: ParsedQueueArgs) => string | undefined;
}

export interface QueueCommandContext {
  /** Prints with the password hidden. */
  readonly io: CliIo;
  readonly parsed: ParsedQueueArgs;
  readonly config: SluiceConfig;
  readonly target: QueueTarget;
}

export async function runQueueCommand(
  argv: readonly string[],
  rawIo: CliIo,
  def: QueueCommandDef,
  body: (context: QueueCommandContext) => Promise<number>,
): Promise<number> {
  const env = rawIo.env ?? process.env;
  const cwd = rawIo.cwd ?? process.cwd();
  let io = redactingIo(rawIo, [env[ENV_VARS.redis]]);
  try {
    const parsed = parseQueueArgs(argv, def.spec);
    if (parsed.help) {
      for (const line of [...def.help, ...queueFlagsHelp(def.spec)]) io.out(line);
      return EXIT.ok;
    }
    const wrong = def.check(parsed);
    if (wrong !== undefined) return usageFailure(io, def.name, wrong, def.usage);
    const { config } = await resolveConfig({ flags: parsed.flags, env, cwd });
    io = redactingIo(rawIo, [env[ENV_VARS.redis], config.redis]);
    return await body({ io, parsed, config, target: queueTarget(config) });
  } catch (error) {
    return queueFailure(io, def.name, error, def.usage);
  }
}

/** A check for a command that takes no positionals. */
export function noPositionals(parsed: ParsedQueueArgs): string | undefined {
  return parsed.positionals.length > 0 ? `unexpected argument ${JSON.stringify(parsed.positionals[0])}` : undefined;
}
