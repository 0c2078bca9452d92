/**
 * The one way the bench runs a child process (a strategy run, the doc servers, the adaptive job):
 * `node ARGS` with
 *
 * - a line protocol: the child prints `TAG payload` lines on stdout (bench/harness/lines.ts) and
 *   reads command lines on stdin; `on(tag)` sees every line of a tag, `next(tag)` waits for the
 *   next one (lines nobody listens to are kept until asked for);
 * - an RSS watchdog: the child's VmRSS read from /proc every `rss.everyMs`, its peak kept, and the
 *   child killed (SIGKILL) once it passes `rss.limitMiB`;
 * - a timeout: killed (SIGKILL) after `timeoutMs`;
 * - the tail of its stderr, for the one-line reason of a crash.
 *
 * The scenario reads how it ended from `exited` (code, signal, which kill and when, the RSS peak).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ChildOptions {
  /** The program to run (a server the bench needs, such as redis-server). @default node (`process.execPath`) */
  readonly command?: string;
  /** What follows `node` (loader flags, the entry, its arguments), or the command's arguments. */
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long. @default no timeout */
  readonly timeoutMs?: number;
  /** Sample VmRSS every `everyMs`, keep its peak, kill past `limitMiB`. @default no watchdog */
  readonly rss?: { readonly limitMiB: number; readonly everyMs: number };
  /** Keep the child's stderr (its last 4000 characters) or pass it through. @default 'keep' */
  readonly stderr?: 'keep' | 'inherit';
  /** A file descriptor the child writes its stdout to (then there is no line protocol). @default a pipe */
  readonly stdoutFd?: number;
}

export type KillReason = 'timeout' | 'rss-limit';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Why the harness killed it, if it did. */
  readonly killed?: KillReason;
  /** `performance.now()` at the kill. */
  readonly killedAt?: number;
  /** The highest VmRSS sampled (MiB); 0 without a watchdog. */
  readonly sampledPeakRssMiB: number;
  /** The last 4000 characters of its stderr (empty when inherited). */
  readonly stderr: string;
}

/** `next` gave up: the child exited first, or the line did not come in time. */
export class ChildLineError extends Error {
  readonly reason: 'exit' | 'timeout';
  constructor(reason: 'exit' | 'timeout', message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface Child {
  readonly pid: number | undefined;
  /** Calls `handler` with the payload of every line `TAG payload` of this tag. */
  on(tag: string, handler: (payload: string) => void): Child;
  /** The payload of the next line of `tag` (kept if it came already). */
  next(tag: string, timeoutMs?: number): Promise<string>;
  /** Writes one command line to the child's stdin. */
  send(line: string): void;
  /** Ends its stdin (children stop on that), kills it (SIGKILL) if still there after `graceMs`. */
  stop(graceMs?: number): Promise<ChildExit>;
  readonly exited: Promise<ChildExit>;
}

/** The child's resident set size now, in MiB; 0 when it has exited or /proc is not there. */
export function vmRssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
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

/** The last stderr line that mentions an error, else `fallback`: one line for a failed run's note. */
export function lastError(stderr: string, fallback: string): string {
  const line =
    stderr
      .trim()
      .split('\n')
      .filter((l) => /error/i.test(l))
      .pop() ?? fallback;
  return line.trim().slice(0, 200);
}

export function startChild(o: ChildOptions): Child {
  const child = spawn(o.command ?? process.execPath, [...o.args], {
    stdio: ['pipe', o.stdoutFd ?? 'pipe', o.stderr === 'inherit' ? 'inherit' : 'pipe'],
    ...(o.env !== undefined ? { env: o.env } : {}),
  });
  const [stdin, stdout] = [child.stdin!, child.stdout];
  stdin.on('error', () => undefined); // a child that exits early closes its end
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));

  const handlers = new Map<string, ((payload: string) => void)[]>();
  const kept = new Map<string, string[]>();
  const waiting = new Map<string, ((payload: string) => void)[]>();
  let pending = '';
  stdout?.setEncoding('utf8').on('data', (d: string) => {
    const lines = (pending + d).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const space = line.indexOf(' ');
      const [tag, payload] = space < 0 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)];
      for (const h of handlers.get(tag) ?? []) h(payload);
      const waiter = waiting.get(tag)?.shift();
      if (waiter) waiter(payload);
      else if (!handlers.has(tag)) kept.set(tag, [...(kept.get(tag) ?? []), payload]);
    }
  });

  let killed: KillReason | undefined;
  let killedAt: number | undefined;
  let sampled = 0;
  const kill = (why: KillReason): void => {
    if (killed !== undefined) return;
    killed = why;
    killedAt = performance.now();
    child.kill('SIGKILL');
  };
  const timer = o.timeoutMs !== undefined ? setTimeout(() => kill('timeout'), o.timeoutMs) : undefined;
  const rss = o.rss;
  const watchdog =
    rss !== undefined
      ? setInterval(() => {
          if (child.pid === undefined) return;
          const mib = vmRssMiB(child.pid);
          if (mib > sampled) sampled = mib;
          if (mib > rss.limitMiB) kill('rss-limit');
        }, rss.everyMs)
      : undefined;

  let done = false;
  const exited = new Promise<ChildExit>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      clearTimeout(timer);
      clearInterval(watchdog);
      resolve({
        code,
        signal,
        ...(killed !== undefined ? { killed, killedAt: killedAt! } : {}),
        sampledPeakRssMiB: sampled,
        stderr,
      });
    });
  });

  const self: Child = {
    pid: child.pid,
    on(tag, handler) {
      handlers.set(tag, [...(handlers.get(tag) ?? []), handler]);
      return self;
    },
    next(tag, timeoutMs) {
      const ready = kept.get(tag)?.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise<string>((resolve, reject) => {
        const queue = waiting.get(tag) ?? [];
        waiting.set(tag, queue);
        const settle = (payload?: string, error?: ChildLineError): void => {
          clearTimeout(limit);
          const i = queue.indexOf(take);
          if (i >= 0) queue.splice(i, 1);
          if (error) reject(error);
          else resolve(payload!);
        };
        const take = (payload: string): void => settle(payload);
        queue.push(take);
        const limit =
          timeoutMs !== undefined
            ? setTimeout(() => settle(undefined, new ChildLineError('timeout', `no "${tag}" within ${timeoutMs} ms`)), timeoutMs)
            : undefined;
        void exited.then((e) =>
          settle(undefined, new ChildLineError('exit', `child exited (${e.code ?? e.signal}) before "${tag}": ${lastError(e.stderr, '')}`)),
        );
      });
    },
    send(line) {
      if (!done && stdin.writable) stdin.write(`${line}\n`);
    },
    async stop(graceMs = 5000) {
      stdin.end();
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const e = await exited;
      clearTimeout(force);
      return e;
    },
    exited,
  };
  return self;
}
