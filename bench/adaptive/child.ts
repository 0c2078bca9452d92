/**
 * Child entry of the adaptive bench: runs ONE batch strategy against the simulator, in this fresh
 * process (started by bench/adaptive/run.ts through the bench's child harness; its line protocol:
 * it prints `READY`, reads `START <url>` and `STOP` on stdin, and prints `RESULT {report}`).
 *
 * Method: a sluice executor with one io stage, `fetchBuffer(`${url}/work/${id}`)` behind
 * `service('sim', { limit })` (default timeout and retry policy: 3 attempts, Retry-After honoured),
 * over a keep-alive agent of 256 sockets (more than any limit here reaches, so no request waits
 * for a socket on the client). The input is an endless id generator that stops yielding on the
 * orchestrator's `stop`; the run then settles what is in flight, so every pulled task ends
 * completed or failed (with its cause). Only if draining takes longer than `--drain-ms` is the run
 * aborted, and the tasks without an outcome are counted as aborted. No warm-up: the limit starts
 * where a user's would, and the first phase's ramp is measured as its recovery time.
 * Every `--sample-ms` it records completions, failures, the service's limit, its attempts in flight
 * and the HTTP requests outstanding.
 *
 * The simulator's URL comes with the `START` line (the child starts while the simulator starts),
 * or from `--url`. Stdin ending counts as `STOP`.
 *
 *   node --import tsx bench/adaptive/child.ts --strategy gradient2 [--url http://127.0.0.1:PORT]
 */
import { parseArgs } from 'node:util';
import { createExecutor, io, service } from 'sluice';
import { createAgent, fetchBuffer } from 'sluice/demo';
import { commands, emit } from '../harness/lines.js';
import { drainRun, serviceSampler } from './drain.js';
import { kindOf, limitOf, tokenBucket } from './strategies.js';
import type { ChildReport, ChildSample } from './types.js';

const { values } = parseArgs({
  options: {
    strategy: { type: 'string', default: '' },
    url: { type: 'string', default: '' },
    rate: { type: 'string', default: '0' },
    'sample-ms': { type: 'string', default: '100' },
    'drain-ms': { type: 'string', default: '15000' },
  },
});
const name = values.strategy;
let url = values.url;
const sampleMs = Number(values['sample-ms']);
const bucket = kindOf(name) === 'throttle' ? tokenBucket(Number(values.rate)) : undefined;
if (bucket && !(Number(values.rate) > 0)) throw new Error('--rate: the throttle needs a rate > 0');

const svc = service('sim', { limit: limitOf(name) });
let outstanding = 0;
const agent = createAgent(256);
const ex = createExecutor<number, Buffer>({
  stages: [
    io(
      'fetch',
      async (id: number, ctx) => {
        if (bucket) await bucket.take(ctx.signal);
        outstanding += 1;
        try {
          return await fetchBuffer(`${url}/work/${id}`, agent, ctx.signal);
        } finally {
          outstanding -= 1;
        }
      },
      { service: svc },
    ),
  ],
});

let stopping = false;
let pulled = 0;
function* ids(): Generator<number> {
  while (!stopping) {
    pulled += 1;
    yield pulled - 1;
  }
}

async function main(): Promise<void> {
  let release = (): void => undefined;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping = true;
      resolve();
    };
    release = commands((line) => {
      if (line.startsWith('START')) {
        url = line.slice('START'.length).trim() || url;
        resolve();
      }
      if (line === 'STOP') stop();
    }, stop);
    void emit('READY');
  });
  const series: ChildSample[] = [];
  const run = await drainRun({
    run: (signal) => ex.run(ids(), { signal }),
    stopping: () => stopping,
    drainMs: Number(values['drain-ms']),
    sampleMs,
    sample: serviceSampler(svc, series, () => outstanding),
  });
  const report: ChildReport = {
    strategy: name,
    series,
    pulled,
    completed: run.completed,
    failed: run.failed,
    aborted: run.aborted ? pulled - run.completed - run.failed : 0,
    causes: run.causes,
    service: svc.stats(),
    drainMs: run.drainMs,
  };
  // Let stdin go only once the report is written: the process then exits on its own.
  await emit('RESULT', report);
  await ex.close();
  agent.destroy();
  release();
}

await main();
