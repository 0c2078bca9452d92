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
import type { CliIo } from '../io.js';
import { EXIT } from '../run/exit.js';
import type { ParsedQueueArgs, QueueCommandSpec } from './args.js';
import { runQueueCommand } from './command.js';

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
  const check = (parsed: ParsedQueueArgs): string | undefined => {
    const [action, ...extra] = parsed.positionals;
    if (action === undefined || !(ACTIONS as readonly string[]).includes(action) || extra.length > 0) {
      const got = parsed.positionals.length === 0 ? 'nothing' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ');
      return `expected one of ${ACTIONS.join(', ')}, got ${got}`;
    }
    const { all, force } = parsed.booleans;
    return action !== 'clean' && (all === true || force === true) ? `--all and --force go with clean, not ${action}` : undefined;
  };
  return runQueueCommand(
    argv,
    rawIo,
    { name: 'queue', spec: SPEC, help: HELP, usage: USAGE_LINE, check },
    async ({ io, parsed, target }) => {
      const { all, force } = parsed.booleans;
      for (const line of await act(parsed.positionals[0] as Action, target, { all: all === true, force: force === true })) io.out(line);
      return EXIT.ok;
    },
  );
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
