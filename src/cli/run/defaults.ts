/** The time limits and counts of `sluice run`'s life cycle, in one place. */
export const RUN_DEFAULTS = Object.freeze({
  /**
   * How long each close (the job's `close()`, the worker pools, the metrics server, the output)
   * may take; past it the command says so on stderr and goes on without it.
   */
  closeTimeoutMs: 10_000,
  /**
   * After the second signal, how long the aborted tasks may take to stop (an io function that
   * ignores `ctx.signal` never does); past it the command stops waiting for them.
   */
  abortSettleMs: 5_000,
  /** Rejected input records shown on stderr; the others are only counted there. */
  rejectsShown: 5,
});
