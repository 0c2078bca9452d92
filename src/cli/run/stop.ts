/**
 * How `sluice run` stops on signals. The first SIGINT/SIGTERM drains (nothing new is pulled, what
 * runs finishes and is written); the second aborts what is in flight and gives it a bounded time
 * to stop (`abortSettleMs`): an io function that ignores `ctx.signal` never does, so past that
 * time the command stops waiting (`forced`), closes what it can and prints the summary. A third
 * signal is the bin's: it exits at once.
 */

/** What a wait raced against `Stopper.race` yields once the command stops waiting. */
export const FORCED: unique symbol = Symbol('forced');
export type Forced = typeof FORCED;

export interface Stopper {
  /** Aborted by the first signal: the run drains. */
  readonly drain: AbortSignal;
  /** Aborted by the second signal: the run aborts its tasks in flight. */
  readonly abort: AbortSignal;
  /** The first signal's name, once one arrived during the run. */
  readonly interruptedBy: string | undefined;
  /** True once the command gave up waiting for the run. */
  readonly forced: boolean;
  /** Handles a signal (the bin's `onSignal` listener). */
  handle(signal: string): void;
  /** Starts the bounded wait for a run that is being stopped (by the abort, or by an error). */
  expire(): void;
  /** `work`, or FORCED once the command gives up waiting. Leaves nothing behind when work settles. */
  race<T>(work: Promise<T>): Promise<T | Forced>;
  /** The run is over: later signals only say that the command is closing; clears the timer. */
  ended(): void;
}

export interface StopperOptions {
  /** Writes a notice line to stderr. */
  readonly note: (line: string) => void;
  /** How long the run may take to settle once stopped, in ms. */
  readonly settleMs: number;
  /** Tasks still running (for the notice when the command stops waiting); undefined before the run. */
  readonly running: () => number | undefined;
}

export function createStopper(options: StopperOptions): Stopper {
  const { note, settleMs, running } = options;
  const drain = new AbortController();
  const abort = new AbortController();
  const waiters = new Set<() => void>();
  let interruptedBy: string | undefined;
  let forced = false;
  let over = false;
  let timer: NodeJS.Timeout | undefined;

  const force = (): void => {
    timer = undefined;
    if (forced) return;
    forced = true;
    const n = running();
    const after = `${settleMs / 1000} s after the abort`;
    if (n === undefined) note(`sluice: the job is still being set up ${after}; not waiting for it`);
    else
      note(`sluice: ${n} task${n === 1 ? '' : 's'} still running ${after} (an io function that ignores ctx.signal?); not waiting for them`);
    for (const wake of [...waiters]) wake();
    waiters.clear();
  };

  const stopper: Stopper = {
    drain: drain.signal,
    abort: abort.signal,
    get interruptedBy() {
      return interruptedBy;
    },
    get forced() {
      return forced;
    },
    handle(signal) {
      if (over) {
        note(`sluice: ${signal}: the run is over; closing the job (a third signal exits at once)`);
      } else if (!drain.signal.aborted) {
        interruptedBy = signal;
        note(`sluice: ${signal}: no new tasks; finishing the ones in flight (${signal} again to abort them)`);
        drain.abort();
      } else if (!abort.signal.aborted) {
        note(`sluice: ${signal} again: aborting the tasks in flight (a third signal exits at once)`);
        abort.abort(new Error(`interrupted by a second ${signal}`));
        stopper.expire();
      }
    },
    expire() {
      if (timer !== undefined || forced || over) return;
      // Not unref'd: a run stuck on a promise nothing resolves leaves the loop empty but for this.
      timer = setTimeout(force, settleMs);
    },
    race(work) {
      if (forced) {
        work.catch(() => undefined);
        return Promise.resolve(FORCED);
      }
      return new Promise((resolve, reject) => {
        const wake = (): void => resolve(FORCED);
        waiters.add(wake);
        work.then(
          (value) => {
            waiters.delete(wake);
            resolve(value);
          },
          (error: unknown) => {
            waiters.delete(wake);
            reject(error);
          },
        );
      });
    },
    ended() {
      over = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
  return stopper;
}
