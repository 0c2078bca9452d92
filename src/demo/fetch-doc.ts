/**
 * Fetches a whole HTTP body into one Buffer that owns its memory (so a cpu stage can move it to a
 * worker without a copy), over a keep-alive agent. Non-2xx answers reject with the status.
 */
import { Agent, get, type IncomingHttpHeaders } from 'node:http';

export interface FetchedDoc {
  readonly id: number;
  readonly body: Uint8Array;
}

export class HttpStatusError extends Error {
  readonly status: number;
  readonly url: string;
  /** The answer's headers (a service limiter reads `retry-after` from them). */
  readonly headers: IncomingHttpHeaders;
  constructor(status: number, url: string, headers: IncomingHttpHeaders = {}) {
    super(`GET ${url} answered HTTP ${status}`);
    this.name = 'HttpStatusError';
    this.status = status;
    this.url = url;
    this.headers = headers;
  }
}

export function createAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

export function fetchBuffer(url: string, agent: Agent, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, ...(signal ? { signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        res.resume();
        reject(new HttpStatusError(status, url, res.headers));
        return;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
      });
      res.on('end', () => {
        // allocUnsafeSlow never uses the shared pool: the Buffer owns its ArrayBuffer whole, so a
        // cpu stage can move it to a worker instead of copying it.
        const body = Buffer.allocUnsafeSlow(length);
        let offset = 0;
        for (const c of chunks) {
          c.copy(body, offset);
          offset += c.length;
        }
        resolve(body);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
