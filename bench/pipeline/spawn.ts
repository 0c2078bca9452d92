/**
 * The processes of the pipeline scenario: the doc servers (bench/server.ts: one process per payload
 * size, one port per latency, kept for the whole scenario and asked for its counters around each run), and one strategy child per run
 * (bench/strategy.ts), killed on a timeout or when its RSS passes a cap. Also the machine's busy
 * CPU from /proc/stat, to tell other users' load apart from the run's own.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { ChildResult } from '../common.js';
import { vmRssMiB } from '../suite/proc.js';

const STRATEGY = fileURLToPath(new URL('../strategy.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));

export type Status = 'ok' | 'errors' | 'timeout' | 'crash' | 'rss-limit';

export interface ChildOutcome {
  readonly status: Status;
  readonly result?: ChildResult;
  /** Why a run failed, one line. */
  readonly note?: string;
}

export interface ServerCounters {
  readonly requests: number;
  readonly cpuMs: number;
}

export interface DocServerProcess {
  /** One URL per latency asked for, in order. */
  readonly urls: readonly string[];
  /** Summed over the process's servers; CPU since it was ready. */
  counters(): Promise<ServerCounters>;
  stop(): Promise<void>;
}


/** Busy CPU time of the whole machine so far (ms), from /proc/stat; NaN off Linux. */
export function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return Number.NaN;
  }
}

/** One server process answering `sizeBytes` documents on one port per latency. */
export async function startDocServers(latenciesMs: readonly number[], sizeBytes: number): Promise<DocServerProcess> {
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(
    process.execPath,
    ['--import', 'tsx', SERVER, '--latency', latenciesMs.join(','), '--size', String(sizeBytes)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const waiting: ((c: ServerCounters) => void)[] = [];
  let text = '';
  const urls: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.startsWith('URL ')) urls.push(line.slice(4).trim());
        if (urls.length === latenciesMs.length) resolve();
        if (line.startsWith('COUNTERS ')) waiting.shift()?.(JSON.parse(line.slice(9)) as ServerCounters);
      }
    });
    child.on('exit', (code) => reject(new Error(`doc server exited (${code}) before printing its URL`)));
  });
  return {
    urls,
    counters() {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin.write('counters\n');
      });
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ChildOptions {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly rssLimitMiB: number;
}

/** Runs bench/strategy.ts once and reads its `RESULT` line. */
export function runStrategyChild(o: ChildOptions): Promise<ChildOutcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', STRATEGY, ...o.args], { stdio: ['ignore', 'pipe', 'pipe'], env: o.env });
  let stdout = '';
  let stderr = '';
  let killed: 'timeout' | 'rss-limit' | undefined;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const kill = (why: 'timeout' | 'rss-limit') => {
    killed ??= why;
    child.kill('SIGKILL');
  };
  const timer = setTimeout(() => kill('timeout'), o.timeoutMs);
  const watchdog = setInterval(() => {
    if (child.pid !== undefined && vmRssMiB(child.pid) > o.rssLimitMiB) kill('rss-limit');
  }, 100);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(watchdog);
      if (killed === 'timeout') return resolve({ status: 'timeout', note: `killed after ${(o.timeoutMs / 1000).toFixed(0)} s` });
      if (killed === 'rss-limit') return resolve({ status: 'rss-limit', note: `killed: RSS over ${o.rssLimitMiB} MiB` });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (line === undefined) {
        const last = stderr.trim().split('\n').filter((l) => /error/i.test(l)).pop() ?? `exit ${code ?? signal}`;
        return resolve({ status: 'crash', note: last.trim().slice(0, 160) });
      }
      const result = JSON.parse(line.slice('RESULT '.length)) as ChildResult;
      if (result.failed > 0) return resolve({ status: 'errors', result, note: `${result.failed} failed: ${result.firstError ?? '?'}` });
      resolve({ status: 'ok', result });
    });
  });
}
