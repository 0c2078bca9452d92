/**
 * One tuning run: `sluice run` in a fresh child process (so peak RSS and warm-up are its own),
 * with the setting's flags, outcomes to the null device and a JSON summary on stderr, which this
 * reads back. A run that outlives its timeout (or runs when the bench gets a signal) is stopped:
 * SIGTERM (the run stops pulling and closes the job), then SIGKILL after a grace period if it is
 * still there. The promise settles only once the child has exited, so no run outlives the bench.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { devNull } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface ChildSummary {
  readonly exitCode: number;
  readonly elapsedMs: number;
  readonly tasks: number;
  readonly completed: number;
  readonly failed: number;
  readonly rejectedRecords: number;
  readonly tasksPerSecond: number;
  readonly peakBuffered: number;
  readonly peakRssBytes: number;
  /** The main thread's event-loop utilisation over the run (0 to 1), when the summary has it. */
  readonly mainThreadUtilization?: number;
}

/** How a child run ended: with a summary, or stopped at its timeout (with whatever it printed). */
export type ChildResult =
  | { readonly kind: 'done'; readonly summary: ChildSummary }
  | {
      /** Stopped at its timeout, or because the bench itself got a signal. */
      readonly kind: 'timedOut' | 'interrupted';
      readonly timeoutMs: number;
      /** Whether it needed SIGKILL (it outlived the grace period after SIGTERM). */
      readonly killed: boolean;
      readonly pid: number | undefined;
    };

export interface ChildOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Stop the run after this long: SIGTERM, then SIGKILL after `graceMs`. */
  readonly timeoutMs: number;
  /** From SIGTERM to SIGKILL. @default 5000 */
  readonly graceMs?: number;
  /** Aborting it stops the run the same way (the bench got a signal). */
  readonly signal?: AbortSignal;
}

/** What the bench keeps of a child's stderr: the summary is the last line, so the tail suffices. */
const STDERR_TAIL_BYTES = 1024 * 1024;
const DEFAULT_GRACE_MS = 5000;
const STDERR_AFTER_EXIT_MS = 1000;

/** The `sluice` executable next to this file: built (`bin.js`), or the source run through tsx. */
function binCommand(): string[] {
  const built = new URL('../bin.js', import.meta.url);
  if (existsSync(built)) return [fileURLToPath(built)];
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return ['--import', tsx, fileURLToPath(new URL('../bin.ts', import.meta.url))];
}

/**
 * Runs `sluice run ARGS` in a child process. Resolves when the child has exited: with its summary,
 * or as timed out. Rejects when it exited by itself without a summary (the job is broken).
 */
export function runChild(args: readonly string[], options: ChildOptions): Promise<ChildResult> {
  const argv = [...binCommand(), 'run', ...args, '--output', devNull, '--log', 'json', '--log-interval', '3600000'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd: options.cwd,
      env: { ...options.env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 2 * STDERR_TAIL_BYTES) stderr = stderr.slice(-STDERR_TAIL_BYTES);
    });
    let stoppedBy: 'timeout' | 'signal' | undefined;
    let killed = false;
    let kill: NodeJS.Timeout | undefined;
    const stop = (why: 'timeout' | 'signal'): void => {
      if (stoppedBy !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      stoppedBy = why;
      child.kill('SIGTERM');
      kill = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, options.graceMs ?? DEFAULT_GRACE_MS);
    };
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    const onAbort = (): void => stop('signal');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) onAbort();
    const settle = (): void => {
      clearTimeout(timer);
      clearTimeout(kill);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (error) => {
      settle();
      reject(error);
    });
    child.on('exit', () => {
      // The process is gone (and reaped). Its stderr ends with it, unless a process it started
      // holds the pipe open: stop reading then, rather than wait for that process.
      setTimeout(() => child.stderr.destroy(), STDERR_AFTER_EXIT_MS).unref();
    });
    child.on('close', (code, signal) => {
      settle();
      if (stoppedBy !== undefined) {
        resolve({ kind: stoppedBy === 'timeout' ? 'timedOut' : 'interrupted', timeoutMs: options.timeoutMs, killed, pid: child.pid });
        return;
      }
      const exitCode = code ?? 1;
      const summary = lastSummary(stderr);
      if (summary === undefined) {
        const how = signal !== null ? `was killed by ${signal}` : `exited ${exitCode}`;
        reject(new Error(`sluice run ${args.join(' ')} ${how} without a summary:\n${stderr.trim().split('\n').slice(-5).join('\n')}`));
        return;
      }
      resolve({ kind: 'done', summary: { ...summary, exitCode } });
    });
  });
}

function lastSummary(stderr: string): Omit<ChildSummary, 'exitCode'> | undefined {
  const lines = stderr.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.type !== 'summary') continue;
      return {
        elapsedMs: num(parsed.elapsedMs),
        tasks: num(parsed.tasks),
        completed: num(parsed.completed),
        failed: num(parsed.failed),
        rejectedRecords: num(parsed.rejectedRecords),
        tasksPerSecond: num(parsed.tasksPerSecond),
        peakBuffered: num(parsed.peakBuffered),
        peakRssBytes: num(parsed.peakRssBytes),
        ...(typeof parsed.mainThreadUtilization === 'number' ? { mainThreadUtilization: num(parsed.mainThreadUtilization) } : {}),
      };
    } catch {
      // a progress line cut short; keep looking
    }
  }
  return undefined;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
