/**
 * The durable bench's no-op job (bench/durable/), as a user would write it against the built
 * package: one io stage that returns its task, at most $SLUICE_BENCH_CONCURRENCY (64) at once, over
 * $SLUICE_BENCH_TASKS (1000) tasks of its own input, the numbers 0, 1, 2, ... (deterministic, so
 * position keys resume). Plain ESM, so the CLI loads it without a TypeScript loader.
 *
 * With $SLUICE_BENCH_MARK set, the stage prints `FIRST` on stdout (the harness's line protocol)
 * when it first runs: the resume start-up is timed from the spawn to that line. Only for a run
 * with --output FILE (stdout then carries no outcome lines).
 *
 * With $SLUICE_BENCH_KEYED set, the job gives its own task keys, `doc-0`, `doc-1`, ... (cli.ts:
 * `keyOf`): a journaled run then keeps a row per done task in its journal, where position keys
 * (the default) keep none.
 */
import { defineJob, io } from 'sluice';

const tasks = Number(process.env.SLUICE_BENCH_TASKS ?? 1000);
const concurrency = Number(process.env.SLUICE_BENCH_CONCURRENCY ?? 64);
let mark = process.env.SLUICE_BENCH_MARK !== undefined;
const keyed = process.env.SLUICE_BENCH_KEYED !== undefined;

export default defineJob({
  name: 'bench-durable-noop',
  stages: [
    io(
      'noop',
      (task) => {
        if (mark) {
          mark = false;
          process.stdout.write('FIRST\n');
        }
        return task;
      },
      { concurrency },
    ),
  ],
  input: function* () {
    for (let i = 0; i < tasks; i++) yield i;
  },
  ...(keyed ? { key: (task) => `doc-${task}` } : {}),
});
