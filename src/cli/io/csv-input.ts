/**
 * CSV input: a header row, then a task per row, an object keyed by the header with string values.
 * Read lazily through csv-parse: its stream holds a bounded number of parsed rows, so a consumer
 * that stops pulling stops the reads, and returning early closes the file.
 *
 * Line numbers are computed here rather than taken from csv-parse's `info.lines`, which counts a
 * CRLF inside a quoted field as two lines and reports where a row ends. CRLF is folded to LF before
 * parsing (values keep '\n'), and a row's first line is csv-parse's current line minus the line
 * breaks inside the row's raw text (its leading blank lines and trailing delimiter excluded).
 */
import { createReadStream } from 'node:fs';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { SluiceInputRecordError } from '../errors.js';

type CsvRecord =
  | { readonly line: number; readonly task: Record<string, string> }
  | { readonly line: number; readonly error: SluiceInputRecordError };

/** A row as the parser hands it over: its position among rows, its first line and its value. */
interface Row {
  readonly seq: number;
  readonly line: number;
  readonly task: Record<string, string>;
}

/** A skipped row: `before` is the number of good rows parsed ahead of it, to keep file order. */
interface Skip {
  readonly before: number;
  readonly line: number;
  readonly error: SluiceInputRecordError;
}

const EXPECTED: Readonly<Record<string, string>> = {
  CSV_RECORD_INCONSISTENT_COLUMNS: 'a row with as many fields as the header',
  CSV_QUOTE_NOT_CLOSED: 'a closed quote',
  CSV_INVALID_CLOSING_QUOTE: 'a delimiter or line end after a closing quote',
  INVALID_OPENING_QUOTE: 'a quote only at the start of a field',
};

/**
 * Read `path` as CSV. A malformed row yields one error record and reading goes on where csv-parse
 * can recover: a row with the wrong number of fields is skipped alone, but an unclosed quote takes
 * the rest of the file into that row.
 */
export async function* readCsv(path: string): AsyncGenerator<CsvRecord> {
  const file = createReadStream(path);
  const skips: Skip[] = [];
  let lastSkipLine = 0;
  let rows = 0;
  const parser = parse({
    columns: true,
    bom: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    raw: true,
    on_record: (record: { record: Record<string, string>; raw: string }, info): Row => ({
      seq: rows++,
      line: firstLine(info.lines, record.raw),
      task: record.record,
    }),
    on_skip: (err: CsvError | undefined, raw: string | undefined) => {
      const line = firstLine(typeof err?.lines === 'number' ? err.lines : 0, raw ?? '');
      // After a bad closing quote csv-parse reads on inside the quote and may report the same row again.
      if (line === lastSkipLine) return undefined;
      lastSkipLine = line;
      const expected = (err !== undefined && EXPECTED[err.code]) || 'a well-formed CSV row';
      const error = new SluiceInputRecordError(path, line, expected, shorten(raw ?? ''), err, { text: true });
      skips.push({ before: rows, line, error });
      return undefined;
    },
  });
  // pipeline destroys every stream when one fails or the parser is destroyed early; the parser's
  // iterator reports the failure, so the callback has nothing left to do.
  pipeline(file, new CrlfToLf(), parser, () => {});
  function* pending(upTo: number): Generator<CsvRecord> {
    while (skips.length > 0 && skips[0]!.before <= upTo) {
      const skip = skips.shift()!;
      yield { line: skip.line, error: skip.error };
    }
  }
  try {
    for await (const row of parser as AsyncIterable<Row>) {
      yield* pending(row.seq);
      yield { line: row.line, task: row.task };
    }
    yield* pending(Infinity);
  } finally {
    parser.destroy();
    if (!file.closed) await new Promise<void>((resolve) => file.once('close', resolve));
  }
}

/** The first line of a row that csv-parse saw end (or fail) on line `end`, given the row's raw text. */
function firstLine(end: number, raw: string): number {
  const body = raw.replace(/^[\r\n]+/, '').replace(/[\r\n]$/, '');
  let breaks = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 10 || c === 13) breaks++;
  }
  return Math.max(1, end - breaks);
}

function shorten(text: string): string {
  const t = text.replace(/^[\r\n]+|[\r\n]+$/g, '');
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

/** Folds each CRLF to LF, byte-wise (a CR byte is never part of a UTF-8 sequence). */
class CrlfToLf extends Transform {
  #pendingCr = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let input = chunk;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      if (input[0] !== 0x0a) this.push(Buffer.from([0x0d]));
    }
    if (input.length > 0 && input[input.length - 1] === 0x0d) {
      this.#pendingCr = true;
      input = input.subarray(0, -1);
    }
    if (input.indexOf(0x0d) === -1) {
      done(null, input);
      return;
    }
    const out = Buffer.allocUnsafe(input.length);
    let n = 0;
    for (let i = 0; i < input.length; i++) {
      const b = input[i]!;
      if (b === 0x0d && input[i + 1] === 0x0a) continue;
      out[n++] = b;
    }
    done(null, out.subarray(0, n));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.#pendingCr ? Buffer.from([0x0d]) : undefined);
  }
}
