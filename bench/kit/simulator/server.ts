/**
 * A simulated downstream service, to show what a batch job does to the service it calls (and to
 * the service's other users). It models a server with C_s workers and a FIFO queue in front:
 *
 * - `GET /work/:id` (the batch) and `GET /online` (other users) share the same workers and the
 *   same queue, so online traffic feels the batch's load.
 * - A request holds a worker for its service time (a timer): `latencyMs`, plus the optional
 *   overload penalty (see `SimulatorConfig.overloadPenalty`) that models a real server thrashing
 *   when its backlog is long. Waiting time grows with the queue, as it does in front of a real one.
 * - Past `queueBound` waiting requests an arrival is answered at once with 503 (or 429) and
 *   `Retry-After`. A client that leaves while queued gives its place up (`abandoned`); one that
 *   leaves while served still costs its worker the full service time (the server cannot tell).
 * - `POST /control` changes the settings at run time (more capacity starts queued requests now;
 *   less lets in-flight ones finish); `GET /stats` reports counters and peaks; `GET /series` the
 *   sampled time series; `POST /reset` zeroes counters, peaks (to the current values) and series.
 *
 * It listens on 127.0.0.1, on a port the OS picks, and talks to nothing else.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SimulatorOptionError } from '../errors.js';
import { closeServer, listenOnLoopback } from '../loopback.js';
import {
  parseControlPatch,
  resolveSimulatorOptions,
  type SeriesSample,
  type SimulatorConfig,
  type SimulatorOptions,
  type SimulatorStats,
} from './protocol.js';

type Route = 'work' | 'online';

export interface SimulationServer {
  /** e.g. `http://127.0.0.1:43210` */
  readonly url: string;
  stats(): SimulatorStats;
  series(): readonly SeriesSample[];
  /** Apply a patch (validated: throws `SimulatorOptionError`); returns the new settings. */
  control(patch: unknown): SimulatorConfig;
  reset(): void;
  close(): Promise<void>;
}

interface Visit {
  readonly route: Route;
  readonly id: string;
  readonly res: ServerResponse;
  gone: boolean;
  timer?: NodeJS.Timeout;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const CONTROL_BODY_LIMIT = 64 * 1024;

export async function startSimulationServer(options: SimulatorOptions = {}): Promise<SimulationServer> {
  const resolved = resolveSimulatorOptions(options);
  let config = resolved.config;
  let body = Buffer.alloc(config.bodyBytes, 'x');
  const now = (): number => performance.now();

  // FIFO queue: an array with a moving head; entries of clients that left are skipped.
  let queue: (Visit | undefined)[] = [];
  let head = 0;
  let queueLength = 0;
  const serving = new Set<Visit>();
  const held: Visit[] = [];

  let t0 = now();
  const zero = { served: 0, servedOnline: 0, rejected503: 0, rejected429: 0, rejectedOnline: 0, abandoned: 0 };
  const n = { ...zero };
  let peakInFlight = 0;
  let peakQueueLength = 0;
  let maxQueueSinceSample = 0;
  let samples: SeriesSample[] = [];

  const noteQueue = (): void => {
    if (queueLength > peakQueueLength) peakQueueLength = queueLength;
    if (queueLength > maxQueueSinceSample) maxQueueSinceSample = queueLength;
  };

  function serviceMs(): number {
    const excess = Math.max(0, queueLength - config.capacity) / config.capacity;
    return config.latencyMs * (1 + config.overloadPenalty * Math.min(1, excess));
  }

  function start(visit: Visit): void {
    serving.add(visit);
    if (serving.size > peakInFlight) peakInFlight = serving.size;
    visit.timer = setTimeout(() => finish(visit), serviceMs());
  }

  function finish(visit: Visit): void {
    if (config.hold) {
      held.push(visit);
      return;
    }
    serving.delete(visit);
    if (visit.gone) n.abandoned += 1;
    else {
      n.served += 1;
      if (visit.route === 'online') n.servedOnline += 1;
      visit.res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
        'x-sim-id': visit.id,
      });
      visit.res.end(body);
    }
    pump();
  }

  /** Start queued requests while workers are free. */
  function pump(): void {
    while (serving.size < config.capacity && queueLength > 0) {
      const next = queue[head];
      queue[head] = undefined;
      head += 1;
      if (!next || next.gone) continue;
      queueLength -= 1;
      start(next);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  }

  function arrive(route: Route, id: string, res: ServerResponse): void {
    const visit: Visit = { route, id, res, gone: false };
    res.on('close', () => {
      if (res.writableEnded || visit.gone) return;
      visit.gone = true;
      if (!serving.has(visit)) {
        // Still queued: it gives its place up (the entry is skipped when reached).
        queueLength -= 1;
        n.abandoned += 1;
      }
    });
    if (serving.size < config.capacity) start(visit);
    else if (config.queueBound === null || queueLength < config.queueBound) {
      queue.push(visit);
      queueLength += 1;
      noteQueue();
    } else {
      if (config.reject === 503) n.rejected503 += 1;
      else n.rejected429 += 1;
      if (route === 'online') n.rejectedOnline += 1;
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (config.retryAfterS !== null) headers['retry-after'] = String(config.retryAfterS);
      res.writeHead(config.reject, headers).end('overloaded');
    }
  }

  function applyControl(input: unknown): SimulatorConfig {
    const patch = parseControlPatch(input);
    const wasHeld = config.hold;
    config = { ...config, ...patch };
    if (patch.bodyBytes !== undefined && patch.bodyBytes !== body.length) body = Buffer.alloc(patch.bodyBytes, 'x');
    if (wasHeld && !config.hold) for (const visit of held.splice(0)) finish(visit);
    pump();
    return config;
  }

  function stats(): SimulatorStats {
    return {
      config,
      served: n.served,
      rejected: { '503': n.rejected503, '429': n.rejected429 },
      rejectedTotal: n.rejected503 + n.rejected429,
      online: { served: n.servedOnline, rejected: n.rejectedOnline },
      abandoned: n.abandoned,
      inFlight: serving.size,
      queueLength,
      peakInFlight,
      peakQueueLength,
      elapsedMs: now() - t0,
    };
  }

  function reset(): void {
    t0 = now();
    Object.assign(n, zero);
    peakInFlight = serving.size;
    peakQueueLength = maxQueueSinceSample = queueLength;
    samples = [];
  }

  const sampler =
    resolved.sampleMs > 0
      ? setInterval(() => {
          samples.push({
            t: Math.round(now() - t0),
            capacity: config.capacity,
            inFlight: serving.size,
            queueLength,
            maxQueueLength: maxQueueSinceSample,
            servedTotal: n.served,
            rejectedTotal: n.rejected503 + n.rejected429,
          });
          if (samples.length > resolved.maxSamples) samples.splice(0, samples.length - resolved.maxSamples);
          maxQueueSinceSample = queueLength;
        }, resolved.sampleMs)
      : undefined;
  sampler?.unref();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const work = /^\/work\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && work) return arrive('work', work[1]!, res);
    if (req.method === 'GET' && path === '/online') return arrive('online', '', res);
    if (req.method === 'GET' && path === '/stats') return sendJson(res, 200, stats());
    if (req.method === 'GET' && path === '/series') return sendJson(res, 200, samples);
    if (req.method === 'POST' && path === '/reset') {
      reset();
      return sendJson(res, 200, stats());
    }
    if (req.method === 'POST' && path === '/control') return void readControl(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no route for ${req.method} ${path}`);
  });

  async function readControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    try {
      for await (const chunk of req) {
        text += String(chunk);
        if (text.length > CONTROL_BODY_LIMIT) throw new SimulatorOptionError('control', 'at most 64 KiB', `${text.length} bytes`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new SimulatorOptionError('control', 'a JSON object', text);
      }
      sendJson(res, 200, applyControl(parsed));
    } catch (error) {
      if (res.headersSent) return;
      if (!(error instanceof SimulatorOptionError)) return sendJson(res, 500, { error: String(error) });
      const { message, code, option: field, expected, received } = error;
      sendJson(res, 400, { error: message, code, field, expected, received });
    }
  }

  const url = await listenOnLoopback(server);

  return {
    url,
    stats,
    series: () => samples,
    control: applyControl,
    reset,
    close: () => {
      if (sampler) clearInterval(sampler);
      for (const visit of serving) clearTimeout(visit.timer);
      return closeServer(server);
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, JSON_HEADERS).end(JSON.stringify(value));
}
