/**
 * The task input file of `sluice run`: JSON Lines or CSV, chosen by flag or by extension, read
 * lazily one record at a time. A `.json` file is read as JSON Lines (one task per line).
 */
import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { SluiceError } from '../../index.js';
import { SluiceUsageError, type SluiceInputRecordError } from '../errors.js';
import { readCsv } from './csv-input.js';
import { countJsonl, jsonShape, readJsonl } from './jsonl-input.js';
import { messageOf } from '../message.js';

/**
 * One record of an input file: a task, or the error that kept a line (or CSV row) from being one.
 * `line` is the 1-based line where the record starts.
 */
export type InputRecord =
  | { readonly line: number; readonly task: unknown }
  | { readonly line: number; readonly error: SluiceInputRecordError };

/** How to read an input file: `auto` picks by extension (.csv, or .jsonl/.ndjson/.json). */
export type InputFormat = 'auto' | 'jsonl' | 'csv';

const EXTENSIONS: Readonly<Record<string, 'jsonl' | 'csv'>> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'jsonl',
  '.csv': 'csv',
};

/**
 * Open `path` for reading, record by record. The file is opened on the first pull; reads follow
 * the pulls (back pressure), and returning early closes it. A file that cannot be read rejects the
 * iteration with a `SluiceUsageError` naming the path (its `cause` is the node error).
 * @throws SluiceUsageError at once when `format` is `auto` and the extension is not a known one.
 */
export function openInput(path: string, format: InputFormat): AsyncIterable<InputRecord> {
  const resolved = resolveFormat(path, format);
  return { [Symbol.asyncIterator]: () => wrapped(path, resolved === 'csv' ? readCsv(path) : readJsonl(path)) };
}

/**
 * The number of records `openInput` would yield (tasks and bad lines), for a progress total.
 * Streams the file in constant memory; JSON Lines are counted without being parsed.
 */
export async function countRecords(path: string, format: InputFormat): Promise<number> {
  const resolved = resolveFormat(path, format);
  if (resolved === 'jsonl') return countJsonl(path).catch((error: unknown) => Promise.reject(readFailure(path, error)));
  let count = 0;
  for await (const _ of wrapped(path, readCsv(path))) count++;
  return count;
}

/**
 * Checks, before anything runs or is written, that `path` can be read in `format`: a regular file
 * opens and its first byte reads (a missing file, a directory or a file without read permission
 * fail here), and a `.json` file read by extension (`auto`) holds JSON Lines rather than one JSON
 * document (an array of tasks, or pretty-printed JSON), which would fail line by line. A pipe or
 * device (`/dev/stdin`, a named pipe) is only checked for read permission: reading from it here
 * would take records from the run.
 * @returns whether the input is a regular file (which can be read twice, e.g. to count it).
 * @throws SluiceUsageError naming the path, with the node error as `cause`, or with a hint.
 */
export async function probeInput(path: string, format: InputFormat): Promise<{ readonly regular: boolean }> {
  const resolved = resolveFormat(path, format);
  let regular: boolean;
  try {
    const stats = await stat(path);
    regular = stats.isFile();
    if (stats.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR' });
    }
    if (regular) {
      const handle = await open(path, 'r');
      try {
        await handle.read(Buffer.alloc(1), 0, 1, 0);
      } finally {
        await handle.close();
      }
    } else {
      await access(path, constants.R_OK);
    }
  } catch (error) {
    throw readFailure(path, error);
  }
  if (!regular || resolved !== 'jsonl' || format !== 'auto' || extname(path).toLowerCase() !== '.json') return { regular };
  const shape = await jsonShape(path).catch((error: unknown) => Promise.reject(readFailure(path, error)));
  if (shape === 'lines') return { regular };
  const what = shape === 'array' ? 'a JSON array' : 'a JSON object spread over several lines';
  const convert = `jq -c '${shape === 'array' ? '.[]' : '.'}' ${path} > ${path.replace(/\.json$/i, '')}.jsonl`;
  throw new SluiceUsageError(
    `Input file ${path} holds ${what}, not JSON Lines: a .json input is read as JSON Lines, one task per line. ` +
      `Write one task per line (\`${convert}\`), or pass --input-format jsonl to read the file line by line anyway`,
  );
}

function resolveFormat(path: string, format: InputFormat): 'jsonl' | 'csv' {
  if (format === 'jsonl' || format === 'csv') return format;
  if (format !== 'auto') {
    throw new SluiceUsageError(`Expected the input format to be one of auto, jsonl, csv, got ${SluiceError.describe(format)}`);
  }
  const byExtension = EXTENSIONS[extname(path).toLowerCase()];
  if (byExtension === undefined) {
    throw new SluiceUsageError(
      `Cannot tell the format of input file ${path} from its extension: expected one of ` +
        `${Object.keys(EXTENSIONS).join(', ')}, or pass the format explicitly (jsonl or csv)`,
    );
  }
  return byExtension;
}

async function* wrapped<T>(path: string, records: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* records;
  } catch (error) {
    throw readFailure(path, error);
  }
}

function readFailure(path: string, error: unknown): unknown {
  if (error instanceof SluiceError) return error;
  const reason = messageOf(error);
  return new SluiceUsageError(`Cannot read input file ${path}: ${reason}`, { cause: error });
}
