/**
 * `sluice queue pause|resume|clean --queue NAME`: a queue's life cycle.
 * - pause: workers claim nothing until resumed (what they hold finishes); resume undoes it.
 * - clean: removes the kept results (completed and failed jobs) once `sluice results` read them;
 *   unread ones only with --force (a removed job's task can be enqueued again). `--all` removes
 *   the whole queue (its jobs, its job record, its worker figures), refused while jobs are active
 *   unless --force.
 * Pause and resume refuse a queue nothing was enqueued on (a misspelt name would otherwise pass).
 * Exit 0; 2 refused (usage, config, the queue's state, Redis unreachable).
 */
import { cleanQueue, pauseQueue, queueStatus, resumeQueue, SluiceQueueError, type QueueTarget } from '../../index.js';
import { ENV_VARS } from '../config/env.js';
import { resolveConfig } from '../config/resolve.js';
import type { CliIo } from '../io.js';
import { EXIT } from '../run/exit.js';
import { usageFailure } from '../run/usage.js';
import { parseQueueArgs, queueFailure, queueFlagsHelp, queueTarget, redactingIo, type QueueCommandSpec } from './args.js';

const USAGE_LINE = 'Usage: sluice queue pause|resume|clean --queue NAME [--all] [--force] [options]';

const SPEC: QueueCommandSpec = {
  runFlags: ['config'],
  queueFlags: ['queue', 'redis', 'prefix'],
  booleans: {
    all: 'clean: remove the whole queue (jobs, job record, worker figures), not only its results',
    force: 'clean: remove results nobody read, or (with --all) a queue with active jobs',
  },
};

const HELP = [
  USAGE_LINE,
  '',
  '  pause   workers claim nothing until resumed; the jobs they hold finish',
  '  resume  workers claim again',
  '  clean   remove the results once `sluice results` read them (--force: unread ones too);',
  '          --all removes the whole queue (refused while jobs are active, unless --force)',
  '',
];

const ACTIONS = ['pause', 'resume', 'clean'] as const;
type Action = (typeof ACTIONS)[number];

export async function queueCommand(argv: readonly string[], rawIo: CliIo): Promise<number> {
  const env = rawIo.env ?? process.env;
  const cwd = rawIo.cwd ?? process.cwd();
  let io = redactingIo(rawIo, [env[ENV_VARS.redis]]);
  try {
    const parsed = parseQueueArgs(argv, SPEC);
    if (parsed.help) {
      for (const line of [...HELP, ...queueFlagsHelp(SPEC)]) io.out(line);
      return EXIT.ok;
    }
    const [action, ...extra] = parsed.positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action) || extra.length > 0) {
      const got = parsed.positionals.length === 0 ? 'nothing' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ');
      return usageFailure(io, 'queue', `expected one of ${ACTIONS.join(', ')}, got ${got}`, USAGE_LINE);
    }
    const { all, force } = parsed.booleans;
    if (action !== 'clean' && (all === true || force === true)) {
      return usageFailure(io, 'queue', `--all and --force go with clean, not ${action}`, USAGE_LINE);
    }
    const { config } = await resolveConfig({ flags: parsed.flags, env, cwd });
    io = redactingIo(rawIo, [env[ENV_VARS.redis], config.redis]);
    const target = queueTarget(config);
    for (const line of await act(action as Action, target, { all: all === true, force: force === true })) io.out(line);
    return EXIT.ok;
  } catch (error) {
    return queueFailure(io, 'queue', error, USAGE_LINE);
  }
}

async function act(action: Action, target: QueueTarget, flags: { all: boolean; force: boolean }): Promise<string[]> {
  const name = target.queue;
  if (action === 'clean') {
    const { removed } = await cleanQueue(target, flags);
    return flags.all
      ? [`removed queue ${name}: ${removed} job(s), its job record and its worker figures`]
      : [`removed ${removed} result(s) from queue ${name}`];
  }
  const status = await queueStatus(target);
  if (status.job === undefined) {
    throw new SluiceQueueError(
      name,
      `queue ${name} on ${status.redis} has no tasks of sluice's (nothing was enqueued on it): check the name`,
    );
  }
  if (action === 'pause') {
    await pauseQueue(target);
    return [`queue ${name} paused: workers claim nothing until \`sluice queue resume\`; the jobs they hold finish`];
  }
  await resumeQueue(target);
  return [`queue ${name} resumed`];
}
