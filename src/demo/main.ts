/**
 * `npm run demo`: runs the demo job against the embedded document service and prints a summary.
 * Exit code 0 when every task completed, 1 otherwise, 2 for bad flags.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SluiceOptionError } from '../index.js';
import { DEMO_DEFAULTS, DEMO_RANGES, runDemo, type DemoOptions, type DemoSummary } from './job.js';
import { messageOf } from '../errors.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const FLAGS = {
  tasks: 'tasks',
  latency: 'latencyMs',
  size: 'sizeBytes',
  threads: 'threads',
  concurrency: 'concurrency',
} as const;

const USAGE = `Usage: node dist/src/demo/main.js [options]
  --tasks N          documents to process (default ${DEMO_DEFAULTS.tasks})
  --latency MS       document service latency per request (default ${DEMO_DEFAULTS.latencyMs})
  --size BYTES       size of each document (default ${DEMO_DEFAULTS.sizeBytes})
  --threads T        worker threads of the synthesize stage (default: available parallelism)
  --concurrency K    fetches in flight at most (default ${DEMO_DEFAULTS.concurrency})
  --out FILE         JSON Lines output (default ${DEMO_DEFAULTS.out()})
  -h, --help         this text`;

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let options: DemoOptions | 'help';
  try {
    options = parseFlags(argv);
  } catch (error) {
    if (!(error instanceof SluiceOptionError || isParseArgsError(error))) throw error;
    io.err(`sluice demo: ${(error as Error).message}`);
    io.err(USAGE);
    return 2;
  }
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }
  let summary: DemoSummary;
  try {
    summary = await runDemo(options);
  } catch (error) {
    io.err(`sluice demo failed: ${messageOf(error)}`);
    return 1;
  }
  for (const line of formatSummary(summary)) io.out(line);
  for (const f of summary.failures) io.err(`  task #${f.index} failed in ${f.stage}: ${f.message}`);
  return summary.completed === summary.tasks && summary.failed === 0 ? 0 : 1;
}

function parseFlags(argv: readonly string[]): DemoOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      tasks: { type: 'string' },
      latency: { type: 'string' },
      size: { type: 'string' },
      threads: { type: 'string' },
      concurrency: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const options: Record<string, number | string> = {};
  for (const [flag, key] of Object.entries(FLAGS)) {
    const raw = values[flag as keyof typeof FLAGS];
    if (raw !== undefined) options[key] = integerFlag(`--${flag}`, raw, DEMO_RANGES[key]);
  }
  if (values.out !== undefined) {
    if (values.out.length === 0) throw new SluiceOptionError('--out', 'a non-empty file path', values.out);
    options.out = values.out;
  }
  return options as DemoOptions;
}

function integerFlag(flag: string, raw: string, range: { readonly min: number; readonly max: number }): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw new SluiceOptionError(flag, `an integer from ${range.min} to ${range.max}`, raw);
  }
  return value;
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

export function formatSummary(s: DemoSummary): string[] {
  const o = s.options;
  return [
    `sluice demo: ${s.tasks} documents of ${o.sizeBytes} bytes, service latency ${o.latencyMs} ms, ` +
      `fetch concurrency ${o.concurrency}, ${o.threads} synthesize thread(s)`,
    `  tasks             ${s.tasks}`,
    `  completed         ${s.completed}`,
    `  failed            ${s.failed}`,
    `  wall time         ${(s.wallMs / 1000).toFixed(2)} s`,
    `  throughput        ${s.tasksPerSecond.toFixed(1)} tasks/s`,
    `  peak open tasks   ${s.peakOpen}`,
    `  peak buffered     ${s.peakBuffered} payloads (bound ${s.bufferedBound})`,
    `  peak RSS          ${s.peakRssMiB.toFixed(1)} MiB`,
    `  service requests  ${s.service.requests} (peak ${s.service.peakInFlight} in flight)`,
    `  output            ${s.output}`,
  ];
}

function isEntry(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  process.exitCode = await main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
