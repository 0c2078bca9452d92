/**
 * The output of a `sluice run`, opened once every other check has passed: stdout or a plain file
 * (no journal), or a journaled file: its journal opened and locked (refused at once when another
 * run holds it, or when a resume finds its input or job changed), the dead-letter file beside it,
 * and the output cut back to the journal's committed length (a resume) or created.
 */
import type { Job, Journal } from '../../index.js';
import type { SluiceConfig } from '../config/schema.js';
import { DEAD_LETTER_FILE, deadLetterLine, openDeadLetters, type DeadLetters } from '../io/dead-letter.js';
import { openJournaledOutput, type JournaledSink } from '../io/journaled-output.js';
import { openOutput, type OutcomeSink } from '../io/output.js';
import { openRunJournal, runFingerprint, type JournalPlan } from './journal-plan.js';
import { createTaskPlaces, type TaskPlaces } from './places.js';

export interface RunOutput {
  readonly sink: OutcomeSink;
  /** The open tasks' places (their keys are the keys in flight of each commit). */
  readonly places: TaskPlaces;
  /** Set for a journaled output. */
  readonly journal?: RunJournal;
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
export async function openRunOutput(options: RunOutputOptions): Promise<RunOutput> {
  const { config, plan, job, jobPath } = options;
  const places = createTaskPlaces();
  if (plan === undefined) return { sink: openOutput(config.output, options.stdout), places };
  const fingerprint = await runFingerprint(config, job, jobPath);
  const ledger: Journal = openRunJournal(plan, fingerprint, config.durable === true);
  const resume = plan.mode === 'resume';
  let deadLetters: DeadLetters | undefined;
  try {
    deadLetters = openDeadLetters(`${plan.dir}/${DEAD_LETTER_FILE}`, resume ? (p, k) => ledger.isSettled(p, k) : undefined);
    const sink = openJournaledOutput({
      path: plan.output,
      ledger,
      resume,
      durable: config.durable === true,
      inFlight: () => places.inFlight(),
      deadLetters,
      ...(options.onFailure ? { onFailure: options.onFailure } : {}),
    });
    let skipped = 0;
    // Dead tasks (in flight at 3 crashes) have no outcome line; their dead-letter line is written
    // when the input meets them, with their record.
    const dead = resume ? deadWithoutLetter(ledger, deadLetters) : new Map<string, string>();
    const skip = resume
      ? (position: number, key: string, record: unknown): boolean => {
          const settled = ledger.isSettled(position, key);
          if (!settled) return false;
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

/** The dead tasks of the journal that have no dead-letter line yet, by key, with their cause. */
function deadWithoutLetter(ledger: Journal, deadLetters: DeadLetters): Map<string, string> {
  const dead = new Map<string, string>();
  for (const record of ledger.dead()) {
    if (!deadLetters.has(record.key)) dead.set(record.key, record.cause ?? 'in flight at 3 crashes of the run');
  }
  return dead;
}
