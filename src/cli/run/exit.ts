/** The exit codes of `sluice run`: 0 every task completed, 1 some failed, 2 bad usage/config/job, 130 interrupted. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, interrupted: 130 });
