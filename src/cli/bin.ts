#!/usr/bin/env node
/**
 * The `sluice` executable: the only place that touches the process (exit code, signals, stdout).
 *
 * It exits with the code `main` returns even when something still holds the event loop (a server
 * or pool a job opened and did not close): the code is set, then an unref'd timer exits after a
 * short grace, which lets the output flush and lets a process with nothing left end on its own.
 */
import { flushOutputs } from './io/output.js';
import { main } from './main.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** Between `main` returning and a forced exit, for pending writes to stdout and stderr. */
const EXIT_GRACE_MS = 1000;
/** The commands handle two signals (drain, then abort); the third exits at once. */
const SIGNALS_BEFORE_EXIT = 3;

// Outcome lines keep the real standard output while `redirectStdout` sends the rest to stderr.
const writeStdout = process.stdout.write.bind(process.stdout);
let signals = 0;

// Node ends a process whose event loop is empty even while `main` still awaits something (a job
// promise that nothing will ever settle), with code 13 and no word: say what happened.
let settled = false;
process.on('exit', () => {
  // A job's process.exit: the lines of the outcomes seen so far still go out.
  flushOutputs();
  if (!settled) {
    process.stderr.write(
      'sluice: the process is ending while the command still waits on the job: it awaits a promise that nothing left ' +
        'in the process can settle (or the job called process.exit)\n',
    );
  }
});

/** The exit code: `main`'s, or 1 when its output could not be written. */
let code = 0;
// A write to stdout that fails (EPIPE: the reader went away; ENOSPC) marks the stream errored and
// emits 'error' later: handled here (not a crash), it makes `out` throw, which ends the run with the
// error; one found after the command ended still makes the exit code 1.
let stdoutFailure: Error | undefined;
process.stdout.on('error', (error) => {
  if (stdoutFailure !== undefined) return;
  stdoutFailure = error;
  if (settled) {
    // After the command ended (its last batch): it cannot report this any more.
    process.stderr.write(`sluice: cannot write to standard output: ${error.message}\n`);
    if (code === 0) code = 1;
    process.exitCode = code;
  }
});

try {
  code = await main(process.argv.slice(2), {
    // One line or several (a batch of outcome lines joined by newlines): one write call.
    out(lines) {
      const failed = stdoutFailure ?? process.stdout.errored;
      if (failed) throw failed;
      writeStdout(`${lines}\n`);
      // A failure the call ran into (EPIPE at once, ENOSPC on a file) fails these lines; its event comes later.
      if (process.stdout.errored) throw process.stdout.errored;
    },
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    cwd: process.cwd(),
    stderr: process.stderr,
    onSignal(listener) {
      const handler = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals >= SIGNALS_BEFORE_EXIT) {
          process.stderr.write(`sluice: ${signal} a third time: exiting now\n`);
          settled = true;
          flushOutputs();
          process.exit(130);
        }
        listener(signal);
      };
      for (const s of SIGNALS) process.on(s, handler);
      return () => {
        for (const s of SIGNALS) process.off(s, handler);
      };
    },
    redirectStdout() {
      const own = Object.hasOwn(process.stdout, 'write');
      const original = process.stdout.write;
      // Node pipes a worker thread's stdout into process.stdout.write, and console.log calls it too.
      // Always true: a false would make those pipes wait for a 'drain' that stdout never emits.
      const toStderr = ((...args: Parameters<typeof process.stderr.write>) => {
        (process.stderr.write as (...a: unknown[]) => boolean)(...args);
        return true;
      }) as typeof process.stdout.write;
      process.stdout.write = toStderr;
      return () => {
        if (process.stdout.write !== toStderr) return;
        if (own) process.stdout.write = original;
        else delete (process.stdout as { write?: unknown }).write;
      };
    },
  });
} catch (error) {
  if (error !== undefined && error === (stdoutFailure ?? process.stdout.errored)) {
    // Text a command printed (its help, a status) could not be written: the reader went away.
    stdoutFailure = error as Error;
    process.stderr.write(`sluice: cannot write to standard output: ${(error as Error).message}\n`);
  } else {
    // A bug in sluice, not in the job: say so, and exit rather than hang on whatever is left open.
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`sluice: internal error (please report it): ${text}\n`);
  }
  code = 1;
}
settled = true;
if (stdoutFailure !== undefined && code === 0) {
  process.stderr.write(`sluice: cannot write to standard output: ${stdoutFailure.message}\n`);
  code = 1;
}
process.exitCode = code;
setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
