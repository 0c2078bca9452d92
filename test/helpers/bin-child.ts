/**
 * The built `sluice` executable in a child process, for the tests of how it runs and ends: start it,
 * read what it printed, wait for a condition of its files (never for a time window: the wait limit
 * only stops a hung test), and kill what a test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../../dist/src/cli/bin.js', import.meta.url));

export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit code (null after a signal), once every byte the child wrote has been read. */
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

/** Runs `sluice ARGS` in `cwd` with the test's environment plus `env`. */
export function startBin(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Running {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  // 'close', not 'exit': by then every byte the child wrote has been read.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** For afterEach: SIGKILL every child a test started that is still running (it hung). */
export function killLeftovers(): void {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Polls `condition` every 10 ms; fails if the child exits first, or after 30 s. */
export async function until(what: string, condition: () => boolean, run: Running): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (condition()) return;
    if (run.child.exitCode !== null) throw new Error(`the child exited before ${what}:\n${run.stderr()}`);
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}:\n${run.stderr()}`);
}

/** The non-empty lines of `file`; none when it does not exist. */
export function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}
