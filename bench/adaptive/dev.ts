/**
 * The adaptive bench for development: the suite's `adaptive` scenario (method in
 * bench/adaptive/scenario.ts and run.ts) with other settings — more strategies (every fixed
 * k, aimd, gradient2 and the variants of bench/adaptive/strategies.ts), longer phases (the first
 * published figures used 8 s), a given throttle rate. Prints the tables and checks; writes files
 * only with --results (the suite's layout: <name>.json, <name>.md, the charts' SVGs).
 *
 *   node --import tsx bench/adaptive/dev.ts [--runs 3] [--quick] [--only none,fixed-10,aimd,vegas] [--all] [--phase-ms 8000] [--throttle-rate 470] [--results /tmp/adaptive]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeScenario } from '../harness/write.js';
import { runAdaptive } from './scenario.js';
import { ALL_STRATEGIES } from './strategies.js';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      all: { type: 'boolean', default: false },
      'phase-ms': { type: 'string' },
      'throttle-rate': { type: 'string' },
      results: { type: 'string' },
    },
    strict: true,
  });
  const t0 = performance.now();
  const report = await runAdaptive({
    runs: Number(values.runs ?? (values.quick ? 1 : 3)),
    quick: values.quick,
    log: (line) => process.stderr.write(`${line}\n`),
    ...(values.all ? { strategies: ALL_STRATEGIES } : {}),
    ...(values.only !== undefined ? { strategies: values.only.split(',').map((s) => s.trim()) } : {}),
    ...(values['phase-ms'] !== undefined ? { phaseMs: Number(values['phase-ms']) } : {}),
    ...(values['throttle-rate'] !== undefined ? { throttleRate: Number(values['throttle-rate']) } : {}),
  });
  const elapsedMs = performance.now() - t0;
  process.stdout.write(`${report.markdown}\n\n`);
  for (const c of report.checks)
    process.stdout.write(`- ${c.pass ? 'PASS' : c.structural ? 'FAIL' : 'NOT MET'}: ${c.claim} (${c.detail})\n`);
  if (values.results !== undefined) {
    const command = ['node --import tsx bench/adaptive/dev.ts', ...process.argv.slice(2)].join(' ');
    await writeScenario(report, pathToFileURL(`${resolve(values.results)}/`), { command, elapsedMs });
  }
  process.stderr.write(`${(elapsedMs / 1000).toFixed(0)} s\n`);
  if (report.checks.some((c) => c.structural && !c.pass)) process.exitCode = 1;
}
