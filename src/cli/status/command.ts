/**
 * `sluice status --output FILE` (or `sluice status FILE.sluice`): what the journal of a run's
 * output holds: tasks done, failed and dead, the pending ones when the input file can tell, the
 * watermark, the fingerprint, and whether a run holds the lock now (its pid, host and start). It
 * takes no lock and changes nothing. Exit 0; a missing journal is a usage error (exit 2).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readJournalStatus, type JournalStatus } from '../../index.js';
import type { CliIo } from '../io.js';
import { countRecords } from '../io/open-input.js';
import { messageOf } from '../message.js';
import { statusQueueCommand } from '../queue/status-queue.js';
import { journalDirOf } from '../run/journal-plan.js';
import { usageFailure } from '../run/usage.js';

const USAGE_LINE = 'Usage: sluice status --output FILE | sluice status FILE.sluice   [--json]';

const HELP = [
  USAGE_LINE,
  '',
  "What the journal of a run's output holds: tasks done, failed and dead (in flight at 3 crashes), pending",
  '(when the input file is there and unchanged), the watermark (every task below it is settled), the',
  'fingerprint (input file, job, config hash), whether a run holds the lock (pid, host, start time), and',
  'a retry of the failed tasks in progress (sluice run ... --retry-failed).',
  '',
  '  --output FILE  the output file of the run (its journal is FILE.sluice)',
  '  --json         one JSON object instead of lines',
  "  --queue NAME   a queue's status instead (sluice status --queue NAME --help)",
  '  -h, --help     this text',
];

export async function statusCommand(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.some((arg) => arg === '--queue' || arg.startsWith('--queue='))) return statusQueueCommand(argv, io);
  const cwd = io.cwd ?? process.cwd();
  let values: { output?: string | undefined; json?: boolean | undefined; help?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: { output: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    return usageFailure(io, 'status', messageOf(error), USAGE_LINE);
  }
  if (values.help === true) {
    for (const line of HELP) io.out(line);
    return 0;
  }
  const given = values.output !== undefined ? [values.output, ...positionals] : positionals;
  if (given.length !== 1) {
    return usageFailure(io, 'status', `expected one output file (--output FILE) or journal folder, got ${given.length}`, USAGE_LINE);
  }
  const path = resolve(cwd, given[0]!);
  const dir = values.output === undefined && path.endsWith('.sluice') ? path : journalDirOf(path);
  let status: JournalStatus | undefined;
  try {
    status = readJournalStatus(dir);
  } catch (error) {
    return usageFailure(io, 'status', `Cannot read the journal ${dir}: ${messageOf(error)}`, USAGE_LINE);
  }
  if (status === undefined) {
    return usageFailure(io, 'status', `There is no journal at ${dir}: no journaled run has written ${dir.slice(0, -'.sluice'.length)}`);
  }
  const pending = await pendingOf(status);
  if (values.json === true) {
    io.out(JSON.stringify({ journal: dir, ...status, retry: status.retry ?? null, pending: pending ?? null }));
    return 0;
  }
  for (const line of statusLines(dir, status, pending)) io.out(line);
  return 0;
}

/** The lines `sluice status` prints. */
export function statusLines(dir: string, s: JournalStatus, pending: number | undefined): string[] {
  const { input, job } = s.fingerprint;
  const state =
    s.retry !== undefined
      ? `retrying the failed tasks (${s.holder !== undefined ? 'running' : 'sluice run ... --retry-failed continues it'}; ` +
        `phase ${s.retry.phase}, ${s.retry.left} left, output generation ${s.retry.generation})`
      : s.holder !== undefined
        ? 'running'
        : s.finished
          ? 'finished'
          : 'not finished (sluice run ... --resume continues it)';
  const lock =
    s.holder === undefined
      ? 'free'
      : `held by pid ${s.holder.pid} on ${s.holder.host}, started ${s.holder.startedAt} (run ${s.holder.epoch})`;
  return [
    `journal   ${dir}`,
    `output    ${dir.slice(0, -'.sluice'.length)} (${s.outputLength} bytes committed)`,
    `state     ${state}`,
    `tasks     ${s.done} done, ${s.failed} failed, ${s.dead} dead, ${pending === undefined ? 'pending unknown' : `${pending} pending`}`,
    `watermark ${s.watermark} (every task below this input position is settled)`,
    input === undefined
      ? "input     the job's own input"
      : `input     ${input.path} (${input.size} bytes, modified ${new Date(input.mtimeMs).toISOString()}, head ${input.headHash.slice(0, 23)})`,
    `job       ${job.name} (${job.module}; config ${job.configHash})`,
    `lock      ${lock}`,
    `epoch     ${s.epoch}`,
  ];
}

/** Records of the input file not settled yet, when the file is there as the journal knows it; else undefined. */
async function pendingOf(s: JournalStatus): Promise<number | undefined> {
  const input = s.fingerprint.input;
  if (s.retry !== undefined) return s.retry.left;
  if (s.finished) return 0;
  if (input === undefined) return undefined;
  try {
    const now = statSync(input.path);
    if (now.size !== input.size || Math.trunc(now.mtimeMs) !== Math.trunc(input.mtimeMs)) return undefined; // changed since
    const records = await countRecords(input.path, 'auto');
    return Math.max(0, records - s.done - s.failed - s.dead);
  } catch {
    return undefined;
  }
}
