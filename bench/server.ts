/**
 * Child entry: the doc server (src/demo/doc-server.ts) in its own process, so serving 256 KiB
 * answers never shares the measured process's event loop. Prints `URL http://127.0.0.1:PORT`,
 * then serves until stdin closes or SIGTERM; prints `COUNTERS {json}` on the way out
 * (with `cpuMs`, its CPU time since it was ready to serve), and also whenever a `counters` line
 * arrives on stdin, so one server can serve several runs and each run takes the difference.
 *
 * Comma-separated `--latency` values start one doc server per latency in this one process (one
 * `URL` line each, in order; counters are summed): the pipeline scenario serves its three shapes
 * from one process, one shape at a time, instead of paying for three Node start-ups.
 *
 *   node --import tsx bench/server.ts --latency 20 --size 262144
 */
import { parseArgs } from 'node:util';
import { startDocServer } from '../src/demo/doc-server.js';

const { values } = parseArgs({
  options: { latency: { type: 'string', default: '20' }, size: { type: 'string', default: '262144' } },
});
const servers = await Promise.all(
  values.latency.split(',').map((l) => startDocServer({ latencyMs: Number(l), sizeBytes: Number(values.size) })),
);
const ready = process.cpuUsage();
for (const s of servers) process.stdout.write(`URL ${s.url}\n`);

function printCounters(): void {
  const cpu = process.cpuUsage(ready);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const cs = servers.map((s) => s.counters());
  const sum = (f: (c: (typeof cs)[number]) => number) => cs.reduce((a, c) => a + f(c), 0);
  const counters = { requests: sum((c) => c.requests), inFlight: sum((c) => c.inFlight), peakInFlight: Math.max(...cs.map((c) => c.peakInFlight)) };
  process.stdout.write(`COUNTERS ${JSON.stringify({ ...counters, cpuMs })}\n`);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  printCounters();
  await Promise.all(servers.map((s) => s.close()));
  process.exit(0);
}
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
let pending = '';
process.stdin.on('data', (d: Buffer) => {
  pending += d.toString();
  let nl: number;
  while ((nl = pending.indexOf('\n')) >= 0) {
    if (pending.slice(0, nl).trim() === 'counters') printCounters();
    pending = pending.slice(nl + 1);
  }
});
process.on('SIGTERM', () => void stop());
