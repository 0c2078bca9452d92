/**
 * JSON Lines input: one task per line, read lazily. The file is streamed in chunks and split on
 * '\n' here (not with node:readline, whose iterator keeps reading ahead into its own queue), so a
 * consumer that stops pulling stops the reads, and returning early closes the file.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { SluiceInputRecordError } from '../errors.js';

/** A physical line of a text file: its 1-based number and its text without '\n', '\r' or BOM. */
export interface TextLine {
  readonly line: number;
  readonly text: string;
}

type JsonlRecord = { readonly line: number; readonly task: unknown } | { readonly line: number; readonly error: SluiceInputRecordError };

/** The longest piece of a bad line kept in an error's `received`. */
const RECEIVED_MAX = 200;

/**
 * Yield every line of `path`, in order. Reads one chunk at a time, only as the consumer pulls.
 * When the consumer returns early (or an error ends the iteration), the file is closed before
 * the iterator settles.
 */
export async function* readLines(path: string): AsyncGenerator<TextLine> {
  const stream = createReadStream(path);
  const decoder = new StringDecoder('utf8');
  // A line longer than a chunk arrives in parts; joining them once avoids quadratic concatenation.
  let parts: string[] = [];
  let line = 1;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let text = decoder.write(chunk);
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        parts.push(text.slice(start, nl));
        start = nl + 1;
        yield { line: line++, text: stripCr(parts.join('')) };
        parts = [];
      }
      if (start < text.length) parts.push(text.slice(start));
    }
    const tail = parts.join('') + decoder.end();
    if (tail.length > 0) yield { line, text: stripCr(tail) };
  } finally {
    if (!stream.closed) {
      stream.destroy();
      await new Promise<void>((resolve) => stream.once('close', resolve));
    }
  }
}

/** Read `path` as JSON Lines: a task per non-blank line, an error record per line that is not JSON. */
export async function* readJsonl(path: string): AsyncGenerator<JsonlRecord> {
  for await (const { line, text } of readLines(path)) {
    if (isBlank(text)) continue;
    let task: unknown;
    try {
      task = JSON.parse(text);
    } catch (cause) {
      yield { line, error: new SluiceInputRecordError(path, line, 'a JSON value', shorten(text), cause, { text: true }) };
      continue;
    }
    yield { line, task };
  }
}

/** The number of non-blank lines of `path`: the records `readJsonl` yields, tasks and errors. */
export async function countJsonl(path: string): Promise<number> {
  let count = 0;
  for await (const { text } of readLines(path)) if (!isBlank(text)) count++;
  return count;
}

export function isBlank(text: string): boolean {
  return text.trim().length === 0;
}

function stripCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

function shorten(text: string): string {
  return text.length > RECEIVED_MAX ? `${text.slice(0, RECEIVED_MAX - 3)}...` : text;
}

/**
 * What a `.json` file holds, judged from its first values: `lines` (JSON Lines: its first
 * non-blank line is a JSON value by itself, and an array is followed by more lines), `array` (a
 * JSON array that is the whole file, on one line or pretty-printed over several), or `object` (a
 * JSON object spread over several lines). Reads up to the second non-blank line only (the first
 * line whole), so a JSON Lines file of any size is judged at once.
 */
export async function jsonShape(path: string): Promise<'lines' | 'array' | 'object'> {
  let firstIsArray = false;
  let seen = false;
  for await (const { text } of readLines(path)) {
    if (isBlank(text)) continue;
    if (seen) return 'lines';
    seen = true;
    const head = text.trimStart()[0];
    if (head !== '[' && head !== '{') return 'lines';
    try {
      JSON.parse(text);
    } catch {
      // The first line opens a value that later lines continue: a pretty-printed document.
      return head === '[' ? 'array' : 'object';
    }
    if (head === '{') return 'lines';
    firstIsArray = true;
  }
  return firstIsArray ? 'array' : 'lines';
}
