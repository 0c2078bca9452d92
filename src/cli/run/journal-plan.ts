/**
 * Whether and how a `sluice run` journals, decided before the job loads and before the output is
 * touched: `--output FILE` journals in `FILE.sluice/`; stdout has no journal. A journal that
 * exists, or an output file no journal accounts for, refuses a plain run (exit 2) with what to do;
 * a journal another run holds refuses every run at once, naming the holder. The journal itself is
 * opened (and locked) later, once the job is known (its fingerprint names it): `openRunJournal`.
 */
import { existsSync, statSync } from 'node:fs';
import {
  ErrorCodes,
  fingerprintInput,
  openJournal,
  readJournalStatus,
  SluiceJournalError,
  type Fingerprint,
  type Job,
  type Journal,
  type JournalStatus,
  type LockHolder,
} from '../../index.js';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { SluiceConfig } from '../config/schema.js';
import { SluiceUsageError } from '../errors.js';
import { messageOf } from '../message.js';

/** `retry`: a retry of the failed tasks, started now or going on (a `--resume` of one in progress too). */
export type JournalMode = 'new' | 'resume' | 'restart' | 'retry';

export interface JournalPlan {
  /** The output file. */
  readonly output: string;
  /** Its journal folder: `OUTPUT.sluice`. */
  readonly dir: string;
  readonly mode: JournalMode;
  /** Resume although the input or the job changed. */
  readonly force: boolean;
  /** There is nothing to do (a retry where no task failed): why. The run ends at once, exit 0. */
  readonly nothing?: string | undefined;
}

export interface JournalFlags {
  readonly resume: boolean;
  readonly restart: boolean;
  readonly 'retry-failed': boolean;
  readonly force: boolean;
}

/** The journal folder of an output file. */
export function journalDirOf(output: string): string {
  return `${output}.sluice`;
}

/**
 * The plan for `output` (undefined or `-`: stdout, no journal).
 * @throws SluiceUsageError when the run must not go on: what is there, and what to run instead.
 */
export function planJournal(output: string | undefined, flags: JournalFlags): JournalPlan | undefined {
  const retry = flags['retry-failed'];
  const given = (['resume', 'restart', 'retry-failed'] as const).filter((name) => flags[name]);
  if (given.length > 1) throw new SluiceUsageError(`${given.map((name) => `--${name}`).join(' and ')} exclude each other: choose one`);
  if (flags.force && !flags.resume && !retry) {
    throw new SluiceUsageError('--force goes with --resume or --retry-failed (it goes on with a journal whose input or job changed)');
  }
  // stdout, or an output that is no regular file (/dev/null, a pipe): nothing to cut back or resume.
  if (output === undefined || output === '-' || isStream(output)) {
    if (given.length > 0) {
      throw new SluiceUsageError(`--${given[0]} needs --output FILE, a regular file: a run to stdout, a device or a pipe keeps no journal`);
    }
    return undefined;
  }
  const dir = journalDirOf(output);
  let status: JournalStatus | undefined;
  try {
    status = readJournalStatus(dir);
  } catch (error) {
    throw new SluiceUsageError(`Cannot read the journal ${dir} of output file ${output}: ${messageOf(error)}`, { cause: error });
  }
  if (status?.holder !== undefined) throw lockedError(output, status.holder);
  const plan = (mode: JournalMode): JournalPlan => ({ output, dir, mode, force: flags.force });
  if (status !== undefined) {
    if (flags.restart) return plan('restart');
    const counts = countsText(status);
    if (status.retry !== undefined) {
      if (flags.resume || retry) return plan('retry');
      throw new SluiceUsageError(
        `The output file ${output} has a retry of its failed tasks that did not finish (${status.retry.left} left to run; ` +
          `journal ${dir}): run with --retry-failed (or --resume) to continue it, or with --restart to discard the run and start over`,
      );
    }
    if (retry) {
      if (!status.finished) {
        throw new SluiceUsageError(
          `The run on ${output} did not finish (${counts}; journal ${dir}): finish it first with --resume, then retry its failed tasks`,
        );
      }
      if (status.failed > 0) return plan('retry');
      return {
        ...plan('retry'),
        nothing: `no task of the run on ${output} failed (${counts}): nothing to retry${status.dead > 0 ? ' (dead tasks are not retried)' : ''}`,
      };
    }
    if (status.finished) {
      throw new SluiceUsageError(
        flags.resume
          ? `The run on ${output} finished already (${counts}): nothing to resume; run with --restart to discard it and run again`
          : `The output file ${output} holds a finished run (${counts}; its journal is ${dir}): run with --restart to discard it ` +
              'and run again, or choose another --output',
      );
    }
    if (flags.resume) return plan('resume');
    throw new SluiceUsageError(
      `The output file ${output} has the journal of a run that did not finish (${counts}; journal ${dir}): ` +
        'run with --resume to continue it, or with --restart to discard it and start over',
    );
  }
  if (flags.resume || retry) {
    const what = flags.resume ? 'resume' : 'retry';
    throw new SluiceUsageError(`There is no journal for ${output} (looked for ${dir}): nothing to ${what}; run without --${given[0]}`);
  }
  if (existsSync(output) && !flags.restart) {
    throw new SluiceUsageError(
      `The output file ${output} exists and no journal accounts for it: sluice does not overwrite it; ` +
        'run with --restart to replace it, or choose another --output',
    );
  }
  return plan(flags.restart ? 'restart' : 'new');
}

/**
 * What a journal is about: the input file (its path, size, mtime and head) or the job's own input,
 * the job's name and module, and a hash of the settings that change what a task's outcome is (the
 * input format, the timeout). Settings that only change speed or display (threads, io limits,
 * buffer, log, limit, durable) may differ between a run and its resume. No environment is read.
 */
export async function runFingerprint(config: SluiceConfig, job: Job, jobPath: string): Promise<Fingerprint> {
  const input = config.input === undefined ? undefined : await fingerprintInput(config.input);
  const settings = JSON.stringify({ inputFormat: config.inputFormat, timeoutMs: config.timeoutMs ?? null });
  const configHash = createHash('sha256').update(settings).digest('hex').slice(0, 16);
  return { input, job: { name: job.name ?? basename(jobPath), module: jobPath, configHash } };
}

/**
 * Opens (and locks) the journal of `plan`.
 * @throws SluiceUsageError when another run holds it, the input or job changed (without `force`),
 * or it cannot be opened: the output is untouched.
 */
export function openRunJournal(plan: JournalPlan, fingerprint: Fingerprint, durable: boolean): Journal {
  try {
    return openJournal(plan.dir, { fingerprint, mode: plan.mode, force: plan.force, durable });
  } catch (error) {
    if (!(error instanceof SluiceJournalError)) throw error;
    const journal = error as SluiceJournalError & { holder?: LockHolder; finished?: boolean };
    if (journal.code === ErrorCodes.JOURNAL_LOCKED && journal.holder !== undefined) throw lockedError(plan.output, journal.holder);
    if (journal.code === ErrorCodes.JOURNAL_CHANGED) {
      throw new SluiceUsageError(
        `Cannot resume the run on ${plan.output}: ${journal.message}. Run with --resume --force to go on anyway ` +
          '(the tasks it holds as settled are skipped), or with --restart to start over',
        { cause: error },
      );
    }
    if (journal.code === ErrorCodes.JOURNAL_EXISTS) {
      throw new SluiceUsageError(
        `The output file ${plan.output} has a journal already (${plan.dir}): run with ` +
          `${journal.finished === true ? '--restart' : '--resume to continue it, or --restart'} to discard it and start over`,
        { cause: error },
      );
    }
    throw new SluiceUsageError(`Cannot open the journal ${plan.dir} of output file ${plan.output}: ${journal.message}`, { cause: error });
  }
}

function lockedError(output: string, holder: LockHolder): SluiceUsageError {
  return new SluiceUsageError(
    `Another run is writing ${output}: pid ${holder.pid} on ${holder.host}, started ${holder.startedAt} (run ${holder.epoch}); ` +
      'one run writes an output at a time: wait for it to end, or stop it and run with --resume',
  );
}

function isStream(path: string): boolean {
  try {
    return !statSync(path).isFile();
  } catch {
    return false; // not there yet: a file the run creates
  }
}

function countsText(status: JournalStatus): string {
  return `${status.done} done, ${status.failed} failed${status.dead > 0 ? `, ${status.dead} dead` : ''}`;
}
