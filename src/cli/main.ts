/**
 * The `sluice` command: `main(argv, io)` returns the exit code, so it can be tested in-process;
 * only bin.ts touches the process. Commands: run, status, bench, config, demo, and the queue's:
 * enqueue, worker, results, queue.
 */
import { readFileSync } from 'node:fs';
import { benchCommand } from './bench/command.js';
import { configCommand } from './config/command.js';
import { runFlagsHelp } from './config/flags.js';
import { demoCommand } from './demo/command.js';
import type { CliIo } from './io.js';
import { enqueueCommand } from './queue/enqueue-command.js';
import { queueCommand } from './queue/queue-command.js';
import { resultsCommand } from './queue/results-command.js';
import { workerCommand } from './queue/worker-command.js';
import { runCommand } from './run/command.js';
import { statusCommand } from './status/command.js';

export type { CliIo };
/** @deprecated use CliIo */
export type Io = CliIo;

const USAGE = `Usage: sluice <command> [options]

Commands:
  run JOB       run a job module (.js, .mjs, .cjs, .ts or .mts; its default export is defineJob({...})): sluice run --help;
                with --output FILE the run is journaled in FILE.sluice/: --resume continues it, --restart starts over
  status        what the journal of a run's output holds (done, failed, dead, pending, the lock): sluice status --output FILE;
                with --queue NAME, what a queue holds (counts, job, workers, rate, ETA)
  enqueue JOB   put a job's tasks on a queue (BullMQ over Redis) for workers on any machine: sluice enqueue --help
  worker JOB    run the job on the tasks of a queue, pulling only when its pipeline has room: sluice worker --help
  results       a queue's outcomes as the JSON lines sluice run writes, each task once: sluice results --help
  queue ACTION  pause, resume or clean a queue: sluice queue --help
  bench JOB     tuning runs: the job on a sample of its input under a matrix of settings: sluice bench --help
  config [JOB]  print the resolved config and where each value came from; with JOB, check the settings
                against the job and list its services and stages as a run builds them: sluice config --help
  demo          run the demo job (dist/src/demo/docs-job.js) on an embedded document service: sluice demo --help

Options:
  -h, --help     this text
  -v, --version  the version of sluice

Config layers, later winning: defaults < sluice.config.json (or --config FILE) < SLUICE_* environment < flags.
Queues: --queue NAME, Redis from SLUICE_REDIS_URL or the config file's "redis" (a password never on the command line).
Exit codes: 0 every task completed, 1 some tasks failed, 2 bad usage, config, input/output file or job, 130 interrupted.`;

const COMMANDS = ['run', 'status', 'bench', 'config', 'demo', 'enqueue', 'worker', 'results', 'queue'];

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest, io);
    case 'status':
      return statusCommand(rest, io);
    case 'bench':
      return benchCommand(rest, io);
    case 'config':
      return configCommand(rest, io, io.env ?? process.env, io.cwd ?? process.cwd());
    case 'demo':
      return demoCommand(rest, io);
    case 'enqueue':
      return enqueueCommand(rest, io);
    case 'worker':
      return workerCommand(rest, io);
    case 'results':
      return resultsCommand(rest, io);
    case 'queue':
      return queueCommand(rest, io);
    case '-v':
    case '--version':
      io.out(version());
      return 0;
    case '-h':
    case '--help':
    case 'help':
      io.out(USAGE);
      io.out('');
      io.out('Options of run (and config), with their defaults and environment variables:');
      for (const line of runFlagsHelp()) io.out(line);
      return 0;
    case undefined:
      io.err(USAGE);
      return 2;
    default:
      io.err(`sluice: unknown command ${JSON.stringify(command)}; expected one of: ${COMMANDS.join(', ')}`);
      io.err(USAGE);
      return 2;
  }
}

function version(): string {
  // From src/cli (sources) or dist/src/cli (built): the package root is two or three levels up.
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}
