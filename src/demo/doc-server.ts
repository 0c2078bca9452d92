/**
 * An HTTP "document service" for the demo, the tests and the benchmark: `GET /docs/:id` answers
 * after `latencyMs` with a generated text document of about `sizeBytes`. It listens on 127.0.0.1
 * on a port the OS picks, counts requests and the peak of concurrent ones, and never talks to
 * anything else.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback } from '../loopback.js';

export interface DocServerOptions {
  /** Delay before each answer. @default 20 */
  readonly latencyMs?: number;
  /** Approximate size of each document in bytes. @default 262144 */
  readonly sizeBytes?: number;
  /** Distinct documents generated up front and served round robin. @default 32 */
  readonly variety?: number;
}

export interface DocServer {
  /** e.g. `http://127.0.0.1:43210` */
  readonly url: string;
  /** Requests answered so far, and the most in flight at once. */
  counters(): { readonly requests: number; readonly inFlight: number; readonly peakInFlight: number };
  close(): Promise<void>;
}

const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore ' +
  'magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo ' +
  'consequat duis aute irure in reprehenderit voluptate velit esse cillum eu fugiat nulla pariatur excepteur ' +
  'sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum river sluice ' +
  'gate water flow pressure batch queue thread worker service limit'
).split(' ');

/** A deterministic pseudo-random text of about `size` bytes (xorshift, seeded). */
export function generateDocument(seed: number, size: number): Buffer {
  let x = (seed * 2654435761) >>> 0 || 1;
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const word = WORDS[x % WORDS.length]!;
    parts.push(word);
    length += word.length + 1;
  }
  return Buffer.from(parts.join(' ').slice(0, size), 'utf8');
}

/** The body the server answers for `GET /docs/:id`: documents repeat every `variety` ids. */
export function documentFor(id: number, sizeBytes = 262144, variety = 32): Buffer {
  return generateDocument((id % variety) + 1, sizeBytes);
}

export async function startDocServer(options: DocServerOptions = {}): Promise<DocServer> {
  const latencyMs = options.latencyMs ?? 20;
  const sizeBytes = options.sizeBytes ?? 262144;
  const variety = options.variety ?? 32;
  const docs = Array.from({ length: variety }, (_, i) => documentFor(i, sizeBytes, variety));
  let requests = 0;
  let inFlight = 0;
  let peakInFlight = 0;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const match = /^\/docs\/(\d+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !match) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    inFlight += 1;
    if (inFlight > peakInFlight) peakInFlight = inFlight;
    const id = Number(match[1]);
    const timer = setTimeout(() => {
      const body = docs[id % variety]!;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'x-doc-id': String(id) });
      res.end(body);
      inFlight -= 1;
      requests += 1;
    }, latencyMs);
    req.on('close', () => {
      if (!res.writableEnded) {
        clearTimeout(timer);
        inFlight -= 1;
      }
    });
  });
  const url = await listenOnLoopback(server);
  return {
    url,
    counters: () => ({ requests, inFlight, peakInFlight }),
    close: () => closeServer(server),
  };
}
