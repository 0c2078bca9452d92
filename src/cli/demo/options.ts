/**
 * The options of `sluice demo`: the demo job's settings (tasks, latency, document size) and the
 * run's (synthesize threads, fetch limit, output file), one defaults object, one resolver, and the
 * flags that set them.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceOptionError } from '../../index.js';
import { DEMO_SETTINGS_DEFAULTS, DEMO_SETTINGS_RANGES, resolveDemoSettings, type DemoSettings } from '../../demo/job.js';
import { SluiceUsageError } from '../errors.js';

export interface DemoOptions extends DemoSettings {
  /** Worker threads of the synthesize stage (the run's `threads`). @default os.availableParallelism() */
  readonly threads?: number;
  /** Fetches in flight at most: a fixed limit of service docs (the run's `io.docs`). @default 16 */
  readonly concurrency?: number;
  /** The JSON Lines output file (truncated first), one synthesis per line; `-` is stdout. @default `<os.tmpdir()>/sluice-demo-output.jsonl` */
  readonly out?: string;
}

export type ResolvedDemoOptions = Required<DemoOptions>;

export const DEMO_DEFAULTS = Object.freeze({
  ...DEMO_SETTINGS_DEFAULTS,
  concurrency: 16,
  threads: (): number => availableParallelism(),
  out: (): string => join(tmpdir(), 'sluice-demo-output.jsonl'),
});

type RunOption = 'threads' | 'concurrency';

/** The accepted range of each numeric option (integers). */
export const DEMO_RANGES: Readonly<Record<keyof DemoSettings | RunOption, { readonly min: number; readonly max: number }>> = Object.freeze({
  ...DEMO_SETTINGS_RANGES,
  threads: { min: 1, max: 256 },
  concurrency: { min: 1, max: 1024 },
});

/** The options with their defaults, checked. @throws SluiceOptionError naming the option. */
export function resolveDemoOptions(options: DemoOptions = {}): ResolvedDemoOptions {
  if (options === null || typeof options !== 'object') throw new SluiceOptionError('options', 'an object', options);
  const out = options.out ?? DEMO_DEFAULTS.out();
  if (typeof out !== 'string' || out.length === 0) throw new SluiceOptionError('out', 'a non-empty file path', out);
  return {
    ...resolveDemoSettings({ tasks: options.tasks, latencyMs: options.latencyMs, sizeBytes: options.sizeBytes }),
    threads: checkInt(options.threads ?? DEMO_DEFAULTS.threads(), 'threads'),
    concurrency: checkInt(options.concurrency ?? DEMO_DEFAULTS.concurrency, 'concurrency'),
    out,
  };
}

function checkInt(value: unknown, name: RunOption): number {
  const { min, max } = DEMO_RANGES[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new SluiceOptionError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export const DEMO_USAGE = `Usage: sluice demo [options]   (npm run demo -- [options])
  --tasks N          documents to process (default ${DEMO_DEFAULTS.tasks})
  --latency MS       document service latency per request (default ${DEMO_DEFAULTS.latencyMs})
  --size BYTES       size of each document (default ${DEMO_DEFAULTS.sizeBytes})
  --threads T        worker threads of the synthesize stage (default: available parallelism)
  --concurrency K    fetches in flight at most (default ${DEMO_DEFAULTS.concurrency})
  --out FILE         JSON Lines output, one synthesis per line; - for stdout (default ${DEMO_DEFAULTS.out()})
  -h, --help         this text`;

const FLAGS = {
  tasks: 'tasks',
  latency: 'latencyMs',
  size: 'sizeBytes',
  threads: 'threads',
  concurrency: 'concurrency',
} as const;

/**
 * The options the flags give ('help' for -h). @throws SluiceOptionError naming the flag for a bad
 * value, SluiceUsageError for an unknown flag, a missing value or a positional argument.
 */
export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
  let values: Partial<Record<keyof typeof FLAGS | 'out', string>> & { help?: boolean };
  try {
    ({ values } = parseArgs({
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
    }));
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))
      throw new SluiceUsageError((error as Error).message, { cause: error });
    throw error;
  }
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
