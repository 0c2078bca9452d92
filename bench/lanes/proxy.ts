/**
 * A counting pass-through in front of the simulator, in the scenario's process (idle otherwise
 * while a run goes): every `/work/…` request is forwarded over a keep-alive agent and counted from
 * its arrival to the end of its answer, so `peak` is the most requests the service had in flight
 * from the job at once, whatever the simulator's capacity, queue or rejections (its own
 * `peakInFlight` counts only the requests in service). The job's limit bounds exactly this.
 */
import { Agent, createServer, request } from 'node:http';
import { closeServer, listenOnLoopback } from '../kit/loopback.js';

export interface CountingProxy {
  readonly url: string;
  /** Requests in flight now, the most at once since the last reset, and forwarded since then. */
  counters(): { readonly inFlight: number; readonly peak: number; readonly requests: number };
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  let [inFlight, peak, requests] = [0, 0, 0];
  const server = createServer((req, res) => {
    inFlight += 1;
    requests += 1;
    if (inFlight > peak) peak = inFlight;
    let counted = true;
    const done = (): void => {
      if (!counted) return;
      counted = false;
      inFlight -= 1;
    };
    res.on('finish', done).on('close', done);
    const out = request(`${target}${req.url ?? '/'}`, { method: req.method, agent, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  });
  const url = await listenOnLoopback(server);
  return {
    url,
    counters: () => ({ inFlight, peak, requests }),
    reset: () => {
      peak = inFlight;
      requests = 0;
    },
    close: async () => {
      await closeServer(server);
      agent.destroy();
    },
  };
}
