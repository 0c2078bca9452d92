/**
 * Starts the service simulator and drives it: `startSimulator` runs it in a child process (what
 * the bench uses, so the service's timers never share the job's event loop);
 * `startSimulatorInProcess` runs it here (cheap, for tests). Both give the same `Simulator`, and
 * both go through the HTTP control endpoints, so a test of one is a test of the other's protocol.
 *
 * The child is `child.ts` loaded with tsx (resolved from the repository's dependencies, whatever
 * the current directory), or the plain-JS entry given as `entry` (the bench compiles one with
 * esbuild: bench/harness/simulator.ts), which starts in a fraction of the time.
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SimulatorOptionError } from '../errors.js';
import {
  resolveSimulatorOptions,
  type ControlPatch,
  type ReadyMessage,
  type SeriesSample,
  type SimulatorConfig,
  type SimulatorOptions,
  type SimulatorStats,
} from './protocol.js';
import { startSimulationServer } from './server.js';

export interface Simulator {
  /** e.g. `http://127.0.0.1:43210`; the batch endpoint is `${url}/work/:id`, online `${url}/online`. */
  readonly url: string;
  /** The child's process id; undefined in-process. */
  readonly pid: number | undefined;
  /** Change settings now; resolves to the new settings. Bad input rejects with `SimulatorOptionError`. */
  control(patch: ControlPatch): Promise<SimulatorConfig>;
  stats(): Promise<SimulatorStats>;
  series(): Promise<SeriesSample[]>;
  /** Zero counters and series; peaks restart from the current values. Settings stay. */
  reset(): Promise<SimulatorStats>;
  /** Stop the service (kill the child and await its exit). Idempotent. */
  close(): Promise<void>;
}

export interface StartSimulatorOptions extends SimulatorOptions {
  /** How long the child may take to report ready. @default 30000 */
  readonly startTimeoutMs?: number;
  /** A compiled (plain JS) copy of child.ts to run without a loader. @default child.ts under tsx */
  readonly entry?: string;
}

/** Run the simulated service in a child process on 127.0.0.1. */
export async function startSimulator(options: StartSimulatorOptions = {}): Promise<Simulator> {
  const { startTimeoutMs = 30_000, entry, ...simOptions } = options;
  resolveSimulatorOptions(simOptions); // fail here, with the parent's stack, not in the child
  const file = entry ?? fileURLToPath(new URL('./child.ts', import.meta.url));
  const execArgv = file.endsWith('.ts') ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
  const child = fork(file, [JSON.stringify(simOptions)], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const url = await new Promise<string>((resolve, reject) => {
    const settle = (why?: string, ready?: string): void => {
      clearTimeout(timer);
      child.off('error', onError).off('exit', onExit).off('message', onMessage);
      if (ready !== undefined) {
        resolve(ready);
        return;
      }
      child.kill('SIGKILL');
      reject(new Error(`the service simulator did not start: ${why}${stderr ? `\n${stderr}` : ''}`));
    };
    const onError = (error: Error): void => settle(error.message);
    const onExit = (code: number | null, signal: string | null): void => settle(`it exited (code ${code}, signal ${signal})`);
    const onMessage = (message: ReadyMessage): void => settle(undefined, message.url);
    const timer = setTimeout(() => settle(`no ready message within ${startTimeoutMs} ms`), startTimeoutMs);
    child.on('error', onError).on('exit', onExit).on('message', onMessage);
  });
  return driver(url, child.pid, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(force);
  });
}

/** Run the simulated service in this process (same HTTP interface; for cheap tests). */
export async function startSimulatorInProcess(options: SimulatorOptions = {}): Promise<Simulator> {
  const server = await startSimulationServer(options);
  return driver(server.url, undefined, () => server.close());
}

function driver(url: string, pid: number | undefined, stop: () => Promise<void>): Simulator {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let closing: Promise<void> | undefined;
  const call = <T>(method: string, path: string, body?: unknown): Promise<T> => requestJson<T>(agent, method, url + path, body);
  return {
    url,
    pid,
    control: (patch) => call<SimulatorConfig>('POST', '/control', patch),
    stats: () => call<SimulatorStats>('GET', '/stats'),
    series: () => call<SeriesSample[]>('GET', '/series'),
    reset: () => call<SimulatorStats>('POST', '/reset'),
    close: () => {
      closing ??= (async () => {
        agent.destroy();
        await stop();
      })();
      return closing;
    },
  };
}

interface ControlError {
  readonly field: string;
  readonly expected: string;
  readonly received: unknown;
  readonly error: string;
}

function requestJson<T>(agent: Agent, method: string, url: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = request(url, { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => {
        try {
          const value: unknown = JSON.parse(text);
          if (res.statusCode === 200) return resolve(value as T);
          if (res.statusCode === 400) {
            const { field, expected, received } = value as ControlError;
            return reject(new SimulatorOptionError(field, expected, received));
          }
          reject(new Error(`${method} ${url} answered HTTP ${res.statusCode}: ${text}`));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
