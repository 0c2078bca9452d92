/**
 * The bench suite: every scenario against its baselines, in one run.
 *
 *   npm run bench                                   # all scenarios, published figures (< 10 min on 2 cores)
 *   npm run bench -- --scope memory                 # one scenario (pipeline, memory, tail, shared, adaptive, overhead, fine-grained, ceiling, bridge, durable, scale-out, lanes)
 *   npm run bench -- --quick                        # the short version the CI smoke runs
 *   npm run bench -- --runs 5 --results /tmp/bench  # more rounds; results elsewhere
 *
 * Each scenario (bench/<name>/scenario.ts, with its strategies and report in the same folder)
 * states its method, runs its strategies and baselines in the same run, and takes medians over
 * rounds with ratios paired within a round; what they share (the child-process harness, the
 * baselines, the doc server, the simulator, stats and formatting) is in bench/harness/, their
 * worker modules in bench/workers/. This runner only sequences them and writes what they report
 * (bench/harness/write.ts): results/<name>.json, <name>.md, SVG charts, and summary.md. Full runs
 * write to bench/results/; --quick runs to bench/results/quick/ (ignored by git) unless --results
 * says otherwise. The exit code is 1 when a structural check failed (a bound
 * broken, a task lost); timing targets are reported, never failed on.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Scenario, ScenarioReport } from './harness/types.js';
import { ORDER, writeScenario, writeSummary } from './harness/write.js';

type Name = (typeof ORDER)[number];

const LOADERS: Readonly<Record<Name, () => Promise<Scenario>>> = {
  pipeline: () => import('./pipeline/scenario.js').then((m) => m.scenario),
  memory: () => import('./memory/scenario.js').then((m) => m.scenario),
  tail: () => import('./tail/scenario.js').then((m) => m.scenario),
  shared: () => import('./shared/scenario.js').then((m) => m.scenario),
  adaptive: () => import('./adaptive/scenario.js').then((m) => m.scenario),
  overhead: () => import('./overhead/scenario.js').then((m) => m.scenario),
  'fine-grained': () => import('./fine-grained/scenario.js').then((m) => m.scenario),
  ceiling: () => import('./ceiling/scenario.js').then((m) => m.scenario),
  bridge: () => import('./bridge/scenario.js').then((m) => m.scenario),
  durable: () => import('./durable/scenario.js').then((m) => m.scenario),
  'scale-out': () => import('./scale-out/scenario.js').then((m) => m.scenario),
  lanes: () => import('./lanes/scenario.js').then((m) => m.scenario),
};

const { values } = parseArgs({
  options: {
    scope: { type: 'string', default: 'all' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    results: { type: 'string' },
  },
  strict: true,
});

const scopes = values.scope === 'all' ? [...ORDER] : values.scope.split(',').map((s) => s.trim());
for (const s of scopes) {
  if (!(ORDER as readonly string[]).includes(s)) {
    throw new Error(`--scope: expected all or a comma list of ${ORDER.join(', ')}, got "${s}"`);
  }
}
const runs = values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, got "${values.runs}"`);
const results =
  values.results !== undefined
    ? pathToFileURL(`${resolve(values.results)}/`)
    : new URL(values.quick ? './results/quick/' : './results/', import.meta.url);
const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

let structuralFailures = 0;
const started = performance.now();
for (const name of scopes as Name[]) {
  log(`\n== ${name}${values.quick ? ' (quick)' : ''}: ${runs} round(s)`);
  const t0 = performance.now();
  const scenario = await LOADERS[name]();
  const report: ScenarioReport = await scenario({ quick: values.quick, runs, results, log });
  const elapsedMs = performance.now() - t0;
  await writeScenario(report, results, { command, elapsedMs });
  for (const c of report.checks) {
    if (c.structural && !c.pass) structuralFailures += 1;
    log(`  ${c.pass ? 'PASS' : c.structural ? 'FAIL' : 'NOT MET'}: ${c.claim} (${c.detail})`);
  }
  log(`== ${name}: ${(elapsedMs / 1000).toFixed(1)} s`);
}
const present = writeSummary(results);
log(`\nWrote ${new URL('summary.md', results).pathname} (${present.join(', ')}) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (structuralFailures > 0) {
  log(`${structuralFailures} structural check(s) failed`);
  process.exitCode = 1;
}
