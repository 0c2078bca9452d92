/**
 * `sluice status --queue NAME [--json]`: what a queue holds now: its job (name, module fingerprint,
 * run id), its counts, whether it is paused, each worker on it (live ones refresh their figures
 * every 2 s; one silent for 10 s is shown as gone), the rate over the live workers, and the time
 * left at that rate. It changes nothing. Exit 0; 2 refused (usage, config, Redis unreachable).
 * The Redis is shown without its password.
 */
import { queueStatus, type QueueStatus, type QueueWorkerFigures } from '../../index.js';
import type { CliIo } from '../io.js';
import { EXIT } from '../run/exit.js';
import type { QueueCommandSpec } from './args.js';
import { noPositionals, runQueueCommand } from './command.js';

const USAGE_LINE = 'Usage: sluice status --queue NAME [--json] [options]';

const SPEC: QueueCommandSpec = {
  runFlags: ['config'],
  queueFlags: ['queue', 'redis', 'prefix'],
  booleans: { json: 'one JSON object instead of lines' },
};

const HELP = [
  USAGE_LINE,
  '',
  'What a queue holds now: its job, waiting / active / delayed / completed / failed tasks, whether it is paused,',
  'each worker on it (host, pid, held jobs, claimed, completed, failed, rate), the rate over the live workers and',
  'the time left at that rate.',
  '',
];

export async function statusQueueCommand(argv: readonly string[], rawIo: CliIo): Promise<number> {
  const def = { name: 'status', spec: SPEC, help: HELP, usage: USAGE_LINE, check: noPositionals };
  return runQueueCommand(argv, rawIo, def, async ({ io, parsed, config, target }) => {
    const status = await queueStatus(target);
    if (parsed.booleans.json === true)
      io.out(JSON.stringify({ ...status, prefix: config.queuePrefix, job: status.job ?? null, etaMs: status.etaMs ?? null }));
    else for (const line of queueStatusLines(status, config.queuePrefix)) io.out(line);
    return EXIT.ok;
  });
}

/** The lines `sluice status --queue` prints. */
export function queueStatusLines(s: QueueStatus, prefix: string): string[] {
  const { waiting, active, delayed, completed, failed } = s.counts;
  const job =
    s.job === undefined
      ? 'none: nothing was enqueued on this queue (sluice enqueue JOB --queue NAME)'
      : `${s.job.name} (module ${s.job.module === undefined ? 'not recorded' : `sha256 ${s.job.module.slice(0, 16)}`}; ` +
        `run ${s.job.runId}, first enqueued ${s.job.createdAt}; results ${s.job.resultsRead ? 'read' : 'not read yet'})`;
  const live = s.workers.filter((w) => w.live).length;
  const left = waiting + active + delayed;
  const eta = s.etaMs !== undefined ? duration(s.etaMs) : left === 0 ? 'nothing left' : 'unknown (no live worker is moving)';
  return [
    `queue     ${s.queue} on ${s.redis} (prefix ${prefix})`,
    `state     ${s.paused ? 'paused (workers claim nothing until `sluice queue resume`)' : 'running'}`,
    `job       ${job}`,
    `tasks     ${waiting} waiting, ${active} active, ${delayed} delayed, ${completed} completed, ${failed} failed`,
    `workers   ${live} live, ${s.workers.length - live} gone`,
    ...s.workers.map(workerLine),
    `rate      ${s.rate.toFixed(1)} tasks/s; left ${left}; eta ${eta}`,
  ];
}

function workerLine(w: QueueWorkerFigures): string {
  const seen = w.live ? `live, refreshed ${duration(w.ageMs)} ago` : `gone: silent for ${duration(w.ageMs)}`;
  return (
    `  ${w.id}  host ${w.host} pid ${w.pid}  held ${w.held}, claimed ${w.claimed}, completed ${w.completed}, ` +
    `failed ${w.failed}, ${w.rate.toFixed(1)}/s  (${seen}; started ${w.started})`
  );
}

/** `850 ms`, `12.3 s`, `4 m 05 s`, `2 h 03 m`. */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} m`;
}
