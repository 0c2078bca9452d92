/**
 * Child entry of the lanes scenario's adaptive part: ONE strategy (the service's limit, from
 * $SLUICE_BENCH_LANES_STRATEGY, read by ./sim-job.ts) in `--lanes` lanes, in this fresh process,
 * against the simulator. The same line protocol and method as bench/adaptive/child.ts: it builds
 * the executor, prints `READY`, reads `START <url>` and `STOP` on stdin, and prints
 * `RESULT {report}` (bench/adaptive/types.ts's ChildReport, plus the lanes' figures: ./types.ts).
 * The input is an endless stream of URLs that stops on `STOP`; the run then settles what is in
 * flight. Every `--sample-ms` it records completions, failures, the service's limit and its
 * permits in flight across lanes (the main thread's view: stats over every lane).
 *
 *   SLUICE_BENCH_LANES_STRATEGY=vegas node --import tsx bench/lanes/adaptive-child.ts --lanes 2
 */
import { parseArgs } from 'node:util';
import { createJobExecutor } from 'sluice';
import { commands, emit } from '../harness/lines.js';
import { drainRun, serviceSampler } from '../adaptive/drain.js';
import type { ChildSample } from '../adaptive/types.js';
import type { AdaptiveChildReport } from './types.js';

const { values } = parseArgs({
  options: {
    lanes: { type: 'string', default: '2' },
    job: { type: 'string', default: new URL('./sim-job.ts', import.meta.url).href },
    'sample-ms': { type: 'string', default: '100' },
    'drain-ms': { type: 'string', default: '15000' },
  },
});
const sampleMs = Number(values['sample-ms']);
const ex = await createJobExecutor<string, number>(values.job, {
  lanes: values.lanes === 'auto' ? 'auto' : Number(values.lanes),
});
const svc = ex.services.find((s) => s.name === 'sim');
if (svc === undefined) throw new Error('the job has no service "sim"');
let peakLimit = svc.limit.current;
const unsubscribe = svc.limit.subscribe((n) => {
  if (n > peakLimit) peakLimit = n;
});

let url = '';
let stopping = false;
let pulled = 0;
function* urls(): Generator<string> {
  while (!stopping) {
    pulled += 1;
    yield `${url}/work/${pulled - 1}`;
  }
}

let release = (): void => undefined;
await new Promise<void>((resolve) => {
  release = commands(
    (line) => {
      if (line.startsWith('START')) {
        url = line.slice('START'.length).trim();
        resolve();
      }
      if (line === 'STOP') stopping = true;
    },
    () => {
      stopping = true;
      resolve();
    },
  );
  void emit('READY', { lanes: ex.lanes });
});

const series: ChildSample[] = [];
const run = await drainRun({
  run: (signal) => ex.run(urls(), { signal }),
  stopping: () => stopping,
  drainMs: Number(values['drain-ms']),
  sampleMs,
  // The HTTP requests outstanding are the permits in flight across lanes (no client count here).
  sample: serviceSampler(svc, series, () => svc.stats().inFlight),
});
unsubscribe();
const service = svc.stats();
const report: AdaptiveChildReport = {
  strategy: process.env.SLUICE_BENCH_LANES_STRATEGY ?? 'vegas',
  series,
  pulled,
  completed: run.completed,
  failed: run.failed,
  aborted: run.aborted ? pulled - run.completed - run.failed : 0,
  causes: run.causes,
  service,
  drainMs: run.drainMs,
  lanes: ex.lanes,
  peakLimit,
  laneCompleted: ex.stats().lanes?.lanes.map((l) => l.completed) ?? [],
};
await emit('RESULT', report);
await ex.close();
release();
