/**
 * Child entry: the demo's doc server (`startDocServer` from 'sluice/demo') in its own process, so
 * serving 256 KiB answers never shares the measured process's event loop. Prints
 * `URL http://127.0.0.1:PORT`, then serves until stdin closes or SIGTERM; prints `COUNTERS {json}`
 * on the way out (with `cpuMs`, its CPU time since it was ready to serve), and also whenever a
 * `counters` line arrives on stdin, so one server can serve several runs and each run takes the
 * difference. The parent side is bench/harness/doc-server.ts.
 *
 * Comma-separated `--latency` values start one doc server per latency in this one process (one
 * `URL` line each, in order; counters are summed): the pipeline scenario serves its three shapes
 * from one process, one shape at a time, instead of paying for three Node start-ups.
 *
 *   node --import tsx bench/harness/doc-server-child.ts --latency 20 --size 262144
 */
import { parseArgs } from 'node:util';
import { startDocServer } from 'sluice/demo';
import { commands, emit } from './lines.js';
import { cpuMsOf } from './stats.js';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '20' },
    size: { type: 'string', default: '262144' },
    variety: { type: 'string', default: '32' },
  },
});
const servers = await Promise.all(
  values.latency
    .split(',')
    .map((l) => startDocServer({ latencyMs: Number(l), sizeBytes: Number(values.size), variety: Number(values.variety) })),
);
const ready = process.cpuUsage();
for (const s of servers) await emit('URL', s.url);

function printCounters(): Promise<void> {
  const cpuMs = cpuMsOf(process.cpuUsage(ready));
  const cs = servers.map((s) => s.counters());
  const sum = (f: (c: (typeof cs)[number]) => number) => cs.reduce((a, c) => a + f(c), 0);
  const counters = {
    requests: sum((c) => c.requests),
    inFlight: sum((c) => c.inFlight),
    peakInFlight: Math.max(...cs.map((c) => c.peakInFlight)),
  };
  return emit('COUNTERS', { ...counters, cpuMs });
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await printCounters();
  await Promise.all(servers.map((s) => s.close()));
  process.exit(0);
}
commands(
  (line) => void (line === 'counters' ? printCounters() : undefined),
  () => void stop(),
);
process.on('SIGTERM', () => void stop());
