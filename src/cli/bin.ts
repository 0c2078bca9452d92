#!/usr/bin/env node
/** The `sluice` executable: the only place that touches process.exitCode. */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
