/**
 * The output of a `sluice run`, opened once every other check has passed: stdout or a plain file
 * (no journal), or a journaled file: its journal opened and locked (refused at once when another
 * run holds it, or when a resume finds its input or job changed), the dead-letter file beside it,
 * and the output cut back to the journal's committed length (a resume) or created.
 *
 * A retry of the failed tasks (retry-file.ts) writes the retry file instead: made first (the output
 * without the failed tasks' lines), cut back on a resume of the retry, and renamed over the output
 * when the retry finishes. A retry that was killed after its end was on record and before the rename
 * has nothing left to run: the rename is done here, and `replaced` says so.
 */
import type { Job, Journal, JournalStatus } from '../../index.js';
import type { SluiceConfig } from '../config/schema.js';
import { DEAD_LETTER_FILE, deadLetterLine, openDeadLetters, type DeadLetters } from '../io/dead-letter.js';
import { openJournaledOutput, type JournaledSink } from '../io/journaled-output.js';
import { openOutput, type OutcomeSink } from '../io/output.js';
import { copyWithoutLines, replaceOutput, retryFileOf } from '../io/retry-file.js';
import { openRunJournal, runFingerprint, type JournalPlan } from './journal-plan.js';
import { createTaskPlaces, type TaskPlaces } from './places.js';

export interface RunOutput {
  readonly sink: OutcomeSink;
  /** The open tasks' places (their keys are the keys in flight of each commit). */
  readonly places: TaskPlaces;
  /** Set for a journaled output. */
  readonly journal?: RunJournal;
}

/** A retry whose run had ended: its output is in place now, and there is nothing to run (the journal is closed). */
export interface ReplacedOutput {
  readonly replaced: JournalStatus;
}

export interface RunJournal {
  readonly sink: JournaledSink;
  readonly plan: JournalPlan;
  readonly deadLetters: DeadLetters;
  /** Whether a settled record is skipped (a resume); counts what it skips. */
  readonly skip: ((position: number, key: string, record: unknown) => boolean) | undefined;
  /** Records skipped so far as settled. */
  readonly skipped: number;
  /** The keys of the suspects of a crash (a resume): each runs alone (tasks.ts). */
  readonly suspects: ReadonlySet<string>;
  /** The run is a retry of the failed tasks. */
  readonly retry: boolean;
  /**
   * Tasks a resume found failed by the runs before it (they are not run again): the run's exit
   * code counts them, since the output holds their failure lines. 0 for a new run and a retry.
   */
  readonly failedBefore: number;
}

export interface RunOutputOptions {
  readonly config: SluiceConfig;
  readonly plan: JournalPlan | undefined;
  readonly job: Job;
  readonly jobPath: string;
  readonly stdout: (line: string) => void;
  /** A batch written from the timer failed. */
  readonly onFailure?: (error: unknown) => void;
}

/** @throws SluiceUsageError when the output or its journal cannot be opened or must not be: nothing is touched then. */
export async function openRunOutput(options: RunOutputOptions): Promise<RunOutput | ReplacedOutput> {
  const { config, plan, job, jobPath } = options;
  const places = createTaskPlaces();
  if (plan === undefined) return { sink: openOutput(config.output, options.stdout), places };
  const fingerprint = await runFingerprint(config, job, jobPath);
  const durable = config.durable === true;
  const ledger: Journal = openRunJournal(plan, fingerprint, durable);
  const retry = ledger.retryPhase !== undefined;
  const resume = plan.mode === 'resume' || retry;
  let deadLetters: DeadLetters | undefined;
  try {
    const retryFile = retryFileOf(plan.dir);
    if (ledger.retryPhase === 'replace') {
      replaceOutput(retryFile, plan.output, durable);
      ledger.replaced();
      const status = ledger.status();
      ledger.close();
      return { replaced: status };
    }
    if (ledger.retryPhase === 'copy') {
      ledger.copied(copyWithoutLines(plan.output, retryFile, ledger.outputLength, ledger.retryCuts(), durable));
    }
    // A resume keeps the dead-letter lines of the tasks on record as failed or dead (a retry: failed
    // in this retry), and drops the rest: torn or uncommitted lines, and those of tasks to retry.
    const keep = retry
      ? (_position: number, key: string): boolean => {
          const state = ledger.stateOf(key);
          return state === 'failed' || state === 'dead';
        }
      : (position: number, key: string): boolean => ledger.isSettled(position, key);
    deadLetters = openDeadLetters(`${plan.dir}/${DEAD_LETTER_FILE}`, resume ? keep : undefined);
    const sink = openJournaledOutput({
      path: retry ? retryFile : plan.output,
      ledger,
      resume,
      durable,
      inFlight: () => places.inFlight(),
      deadLetters,
      ...(options.onFailure ? { onFailure: options.onFailure } : {}),
      ...(retry ? { replace: { target: plan.output, done: () => ledger.replaced() } } : {}),
    });
    let skipped = 0;
    // Dead tasks (in flight at 3 crashes) have no outcome line; their dead-letter line is written
    // when the input meets them, with their record.
    const dead = resume ? deadWithoutLetter(ledger, deadLetters) : new Map<string, string>();
    const settled = retry ? unretried(ledger) : (position: number, key: string) => ledger.isSettled(position, key);
    const skip = resume
      ? (position: number, key: string, record: unknown): boolean => {
          if (!settled(position, key)) return false;
          skipped++;
          const cause = dead.get(key);
          if (cause !== undefined) {
            dead.delete(key);
            deadLetters!.write([deadLetterLine({ key, position, record }, { stage: 'journal', attempts: 0, error: new Error(cause) })]);
          }
          return true;
        }
      : undefined;
    const journal: RunJournal = {
      sink,
      plan,
      deadLetters,
      skip,
      suspects: new Set(resume ? Array.from(ledger.suspects(), (s) => s.key) : []),
      retry,
      failedBefore: resume && !retry ? ledger.status().failed : 0,
      get skipped() {
        return skipped;
      },
    };
    return { sink, places, journal };
  } catch (error) {
    deadLetters?.close();
    ledger.close();
    throw error;
  }
}

/**
 * Whether a record a retry meets is settled (not to run): all but the failed tasks it has still to
 * run, which it finds by walking `toRetry()` (by position) beside the input (in position order).
 */
function unretried(ledger: Journal): (position: number, key: string) => boolean {
  const left = ledger.toRetry()[Symbol.iterator]();
  let next = left.next();
  return (position, key) => {
    while (next.done !== true && next.value.position < position) next = left.next();
    return next.done === true || next.value.position !== position || next.value.key !== key;
  };
}
/** The dead tasks of the journal that have no dead-letter line yet, by key, with their cause. */
function deadWithoutLetter(ledger: Journal, deadLetters: DeadLetters): Map<string, string> {
  const dead = new Map<string, string>();
  for (const record of ledger.dead()) {
    if (!deadLetters.has(record.key)) dead.set(record.key, record.cause ?? 'in flight at 3 crashes of the run');
  }
  return dead;
}
