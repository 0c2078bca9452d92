#!/usr/bin/env node
/** The `sluice` executable: the only place that touches the process (exit code, signals). */
import { main } from './main.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** After a second signal the command aborts its work; if something still holds the process, leave. */
const FORCE_EXIT_AFTER_MS = 5000;

let signals = 0;

process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  cwd: process.cwd(),
  stderr: process.stderr,
  onSignal(listener) {
    const handler = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals >= 2) setTimeout(() => process.exit(130), FORCE_EXIT_AFTER_MS).unref();
      listener(signal);
    };
    for (const s of SIGNALS) process.on(s, handler);
    return () => {
      for (const s of SIGNALS) process.off(s, handler);
    };
  },
});
