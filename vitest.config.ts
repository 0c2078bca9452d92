import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Test files that run alone, one at a time, after every other file has finished: those whose
 * assertions depend on timing or on the machine being otherwise idle (adaptive limits that read
 * latency, the bench, the simulator, deadlines and back-pressure measured in time).
 *
 * Choosing for a new file: it goes in the "parallel" group by default (two files at a time on
 * CI's 2 cores, each beside another busy file). Add it here only if it asserts something that
 * load can change: a latency, a rate, a duration or deadline short enough that a busy core can
 * miss it, a limit that moves with measured round trips. A file that only starts servers or
 * child processes (redis-server, the built bin) and asserts counters and states stays parallel.
 */
const SERIAL = [
  'test/adaptive.test.ts',
  'test/limits/**/*.test.ts',
  'test/bench-smoke.test.ts',
  'test/simulator.test.ts',
  'test/backpressure.test.ts',
  'test/retry-after.test.ts',
  'test/io-timeout.test.ts',
];

export default defineConfig({
  // `vitest run --exclude GLOB` adds GLOB to the root config's exclude only, never to a project's
  // (vitest 4.1): hand it to each project so that the flag still works.
  plugins: [
    {
      name: 'sluice:cli-exclude-in-projects',
      configureVitest({ project, vitest }) {
        project.config.exclude.push(...(vitest.config.cliExclude ?? []));
      },
    },
  ],
  test: {
    // Shared by both projects (each `extends: true`). Real worker threads and servers on 2 busy
    // cores: give them room, never retry a failure away.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    retry: 0,
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...SERIAL],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'serial',
          include: SERIAL,
          maxWorkers: 1,
          // After the "parallel" group has finished (groups run in ascending order).
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
