/**
 * The CLI's own errors: a config value, the command line, a record of an input file. They extend
 * the public `SluiceError`, carry stable codes from `ErrorCodes`, and render received values as
 * every sluice error does (`SluiceError.describe`).
 */
import { ErrorCodes, SluiceError } from '../index.js';

const describe = (value: unknown): string => SluiceError.describe(value);

/** Where a config value came from. */
export type ConfigSource =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string };

/** Say where a config value came from: `default`, `file sluice.config.json`, `env SLUICE_THREADS`, `flag --threads`. */
export function formatSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `file ${source.path}`;
    case 'env':
      return `env ${source.name}`;
    case 'flag':
      return `flag ${source.name}`;
  }
}

/** A config value (from a file, the environment or a flag) has the wrong type or value. */
export class SluiceConfigError extends SluiceError {
  readonly key: string;
  readonly source: ConfigSource;
  readonly expected: string;
  readonly received: unknown;
  constructor(key: string, source: ConfigSource, expected: string, received: unknown) {
    super(ErrorCodes.CONFIG, `Expected config \`${key}\` (from ${formatSource(source)}) to be ${expected}, got ${describe(received)}`);
    this.key = key;
    this.source = source;
    this.expected = expected;
    this.received = received;
  }
}

/** The command line is malformed: an unknown command or flag, a missing argument. */
export class SluiceUsageError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.USAGE, message, options);
  }
}

/**
 * One record of an input file (a JSONL or CSV line) cannot be read, or the job's `parse` rejected
 * it; the other records still run. `cause` is what the parser or `parse` threw. With `text: true`,
 * `received` is the raw text of the line and the message shows it as it is, not as a JSON string.
 */
export class SluiceInputRecordError extends SluiceError {
  readonly file: string;
  readonly line: number;
  readonly expected: string;
  readonly received: unknown;
  constructor(file: string, line: number, expected: string, received: unknown, cause?: unknown, options?: { readonly text?: boolean }) {
    const got = options?.text === true && typeof received === 'string' ? describeText(received) : describe(received);
    super(ErrorCodes.INPUT_RECORD, `${file}:${line}: expected ${expected}, got ${got}`, { cause });
    this.file = file;
    this.line = line;
    this.expected = expected;
    this.received = received;
  }
}

/** A line of text from a file for an error message: as it is (shortened), quoted once. */
function describeText(text: string): string {
  return `\`${text.length > 80 ? `${text.slice(0, 77)}...` : text}\` (text)`;
}
