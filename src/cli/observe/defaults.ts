/** The defaults of the progress reporters and the metrics endpoint, in one place. */

export const OBSERVE_DEFAULTS = Object.freeze({
  /** How often `start()` makes a reporter tick, in ms. */
  intervalMs: 1000,
  /** The rate is taken over the snapshots of this last stretch of time, in ms. */
  rateWindowMs: 10_000,
  /** Terminal width when the stream does not say. */
  columns: 80,
  /** Inner width of the `[####....]` bar when there is room for it. */
  barWidth: 20,
  /** Narrowest bar worth drawing; below this the bar is left out. */
  minBarWidth: 6,
  /** Prefix of every metric name. */
  metricsPrefix: 'sluice_',
  /** The main thread counts as saturated at this `recentUtilization` or above (the ceiling warning). */
  ceilingUtilization: 0.9,
  /** The ceiling warning needs this much run time of saturated checks in a row, in ms... */
  ceilingForMs: 15_000,
  /** ...and at least this many of them. */
  ceilingChecks: 3,
  /** Buckets of the attempt-duration histogram, in seconds: 1 ms to 30 s, for HTTP calls. */
  attemptBuckets: Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
});
