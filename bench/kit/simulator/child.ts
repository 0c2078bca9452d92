/**
 * Child-process entry of the service simulator (server.ts). The simulated service runs in its own
 * process so that its timers and sockets never share an event loop with the job under test: the
 * service's latency is then the service's, not the client's.
 *
 * Its one argument is the options as JSON. Started with an IPC channel (client.ts forks it), it
 * sends `{ type: 'ready', url }` and exits when the parent disconnects (also if the parent dies).
 * Started by hand, it prints `URL http://127.0.0.1:PORT` and exits when stdin ends:
 *
 *   node --import tsx bench/kit/simulator/child.ts '{"capacity":3,"latencyMs":20}'
 */
import type { ReadyMessage } from './protocol.js';
import { startSimulationServer } from './server.js';

const server = await startSimulationServer(JSON.parse(process.argv[2] ?? '{}') as object);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  void server.close().finally(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

if (process.send) {
  process.on('disconnect', stop);
  const ready: ReadyMessage = { type: 'ready', url: server.url };
  process.send(ready);
} else {
  process.stdout.write(`URL ${server.url}\n`);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
