/**
 * `sluice run --metrics-port N`: serves the run's metrics at `GET /metrics` in the Prometheus text
 * format, on 127.0.0.1 only (a batch job's internals are nobody else's business; put a proxy in
 * front to expose them). Port 0 picks a free port; `port` and `url` report the real one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Service } from '../../index.js';
import { SluiceOptionError } from '../../index.js';
import type { RunMetrics } from './metrics-registry.js';
import type { RunSnapshot } from './snapshot.js';
import { messageOf } from '../message.js';

const HOST = '127.0.0.1';

export interface MetricsServer {
  /** The port listened on (the one the OS picked for port 0). */
  readonly port: number;
  /** `http://127.0.0.1:<port>/metrics` */
  readonly url: string;
  /** Counts one outcome written: completed, or failed (in `stage`, when known). */
  recordOutcome(outcome: { readonly ok: boolean; readonly stage?: string }): void;
  /** Stops listening, drops open connections, unsubscribes from the services. Idempotent. */
  close(): Promise<void>;
}

export interface MetricsOptions {
  /** 0 to 65535; 0 picks a free port. */
  readonly port: number;
  readonly snapshot: () => RunSnapshot;
  /** Services whose every attempt feeds the duration histogram. */
  readonly services: readonly Service[];
  /** @default 'sluice_' */
  readonly prefix?: string;
}

export async function startMetrics(options: MetricsOptions): Promise<MetricsServer> {
  if (options === null || typeof options !== 'object') throw new SluiceOptionError('metrics options', 'an object', options);
  const { port, services } = options;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SluiceOptionError('metrics port', 'an integer from 0 to 65535', port);
  }
  if (!Array.isArray(services) || services.some((s) => typeof s?.observe !== 'function')) {
    throw new SluiceOptionError('metrics services', 'an array of services', services);
  }
  // prom-client is loaded only by a run that serves metrics: it would add about 0.1 s to every start.
  const { createRunMetrics } = await import('./metrics-registry.js');
  const metrics = createRunMetrics({
    snapshot: options.snapshot,
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
  });
  const unsubscribers = (services as readonly Service[]).map((s) => s.observe((event) => metrics.recordAttempt(event)));
  const unsubscribe = (): void => {
    for (const off of unsubscribers.splice(0)) off();
  };
  const server = createServer((req, res) => handle(metrics, req, res));
  try {
    await listen(server, port);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: actual,
    url: `http://${HOST}:${actual}/metrics`,
    recordOutcome: (outcome) => metrics.recordOutcome(outcome),
    close() {
      closing ??= new Promise<void>((resolve) => {
        unsubscribe();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function handle(metrics: RunMetrics, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
    return;
  }
  metrics.scrape().then(
    (body) => {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    (error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Metrics failed: ${messageOf(error)}\n`);
    },
  );
}
