/**
 * Child entry: the doc server (src/demo/doc-server.ts) in its own process, so serving 256 KiB
 * answers never shares the measured process's event loop. Prints `URL http://127.0.0.1:PORT`,
 * then serves until stdin closes or SIGTERM; prints `COUNTERS {json}` on the way out
 * (with `cpuMs`, its CPU time since it was ready to serve).
 *
 *   node --import tsx bench/server.ts --latency 20 --size 262144
 */
import { parseArgs } from 'node:util';
import { startDocServer } from '../src/demo/doc-server.js';

const { values } = parseArgs({
  options: { latency: { type: 'string', default: '20' }, size: { type: 'string', default: '262144' } },
});
const server = await startDocServer({ latencyMs: Number(values.latency), sizeBytes: Number(values.size) });
const ready = process.cpuUsage();
process.stdout.write(`URL ${server.url}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const cpu = process.cpuUsage(ready);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(`COUNTERS ${JSON.stringify({ ...server.counters(), cpuMs })}\n`);
  await server.close();
  process.exit(0);
}
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.on('SIGTERM', () => void stop());
