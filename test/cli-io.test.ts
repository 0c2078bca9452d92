/** The input files and the outcome output of `sluice run`: src/cli/io. */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceStateError, type Outcome } from '../src/index.js';
import { SluiceInputRecordError, SluiceUsageError } from '../src/cli/errors.js';
import { countRecords, openInput, probeInput, type InputRecord } from '../src/cli/io/open-input.js';
import { inputErrorLine, outcomeLine } from '../src/cli/io/outcome-line.js';
import { checkOutput, openOutput } from '../src/cli/io/output.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function all(records: AsyncIterable<InputRecord>): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const record of records) out.push(record);
  return out;
}

/** Tasks as [line, task] and errors as [line, error], in file order. */
function shape(records: InputRecord[]): [number, unknown][] {
  return records.map((r) => ('task' in r ? [r.line, r.task] : [r.line, r.error]));
}

function errorOf(record: InputRecord | undefined): SluiceInputRecordError {
  if (record === undefined || !('error' in record)) throw new Error(`expected an error record, got ${JSON.stringify(record)}`);
  return record.error;
}

/** Descriptors this process holds open on `path` (Linux), or undefined where /proc is missing. */
function fdsOn(path: string): number | undefined {
  if (!existsSync('/proc/self/fd')) return undefined;
  const real = realpathSync(path);
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === real) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

describe('JSON Lines input', () => {
  it('yields tasks with 1-based line numbers, skipping blank lines, a BOM and CRs', async () => {
    const path = await file('tasks.jsonl', '\uFEFF{"id":1}\r\n\r\n  \n[2]\r\n"three"\n\n4');
    expect(shape(await all(openInput(path, 'jsonl')))).toEqual([
      [1, { id: 1 }],
      [4, [2]],
      [5, 'three'],
      [7, 4],
    ]);
  });

  it('turns a line that is not JSON into an error record and reads on', async () => {
    const path = await file('tasks.jsonl', '{"id":1}\n{"id":\n\n{"id":3}\n');
    const records = await all(openInput(path, 'jsonl'));
    expect(records).toHaveLength(3);
    expect(records[0]).toEqual({ line: 1, task: { id: 1 } });
    expect(records[2]).toEqual({ line: 4, task: { id: 3 } });
    const error = errorOf(records[1]);
    expect(records[1]!.line).toBe(2);
    expect(error).toBeInstanceOf(SluiceInputRecordError);
    expect(error).toMatchObject({ code: 'ERR_SLUICE_INPUT_RECORD', file: path, line: 2, expected: 'a JSON value', received: '{"id":' });
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('reads past a 50 MiB line (a bad one, then a good one): each is one record, reported or run, and the rest run', async () => {
    const huge = 50 * 1024 * 1024;
    const path = await file('huge.jsonl', `{"id":1}\n${'x'.repeat(huge)}\n{"blob":"${'y'.repeat(huge)}"}\n{"id":4}\n`);
    const records = await all(openInput(path, 'jsonl'));
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 4]);
    expect(records[0]).toEqual({ line: 1, task: { id: 1 } });
    expect(errorOf(records[1])).toMatchObject({ code: 'ERR_SLUICE_INPUT_RECORD', line: 2, expected: 'a JSON value' });
    expect(String(errorOf(records[1]).received).length).toBeLessThanOrEqual(200);
    const big = records[2] as { task: { blob: string } };
    expect(big.task.blob.length).toBe(huge);
    expect(records[3]).toEqual({ line: 4, task: { id: 4 } });
  });

  it('keeps only the start of a long bad line in the error', async () => {
    const path = await file('tasks.jsonl', `${'x'.repeat(10_000)}\n`);
    const [record] = await all(openInput(path, 'jsonl'));
    expect(String(errorOf(record).received).length).toBeLessThanOrEqual(200);
  });
});

describe('CSV input', () => {
  it('yields an object per row keyed by the header, values as strings', async () => {
    const path = await file('tasks.csv', '\uFEFFid,name\r\n1,ann\r\n\r\n2,"b,""c"""\r\n3,"multi\r\nline"\r\n4,dee\r\n');
    expect(shape(await all(openInput(path, 'csv')))).toEqual([
      [2, { id: '1', name: 'ann' }],
      [4, { id: '2', name: 'b,"c"' }],
      [5, { id: '3', name: 'multi\nline' }],
      [7, { id: '4', name: 'dee' }],
    ]);
  });

  it('turns a row with the wrong number of fields into an error record and reads on', async () => {
    const path = await file('tasks.csv', 'id,name\n1,a\n\n2,b,extra\n3\n4,d\n');
    const records = await all(openInput(path, 'csv'));
    expect(records.map((r) => [r.line, 'task' in r])).toEqual([
      [2, true],
      [4, false],
      [5, false],
      [6, true],
    ]);
    const error = errorOf(records[1]);
    expect(error).toMatchObject({ code: 'ERR_SLUICE_INPUT_RECORD', file: path, line: 4, received: '2,b,extra' });
    expect(error.cause).toMatchObject({ code: 'CSV_RECORD_INCONSISTENT_COLUMNS' });
    expect(records[3]).toEqual({ line: 6, task: { id: '4', name: 'd' } });
  });

  it('reports an unclosed quote once, at the line where its row starts', async () => {
    const path = await file('tasks.csv', 'id,name\n1,a\n2,"b\n3,c\n');
    const records = await all(openInput(path, 'csv'));
    expect(records).toHaveLength(2);
    expect(records[0]).toEqual({ line: 2, task: { id: '1', name: 'a' } });
    expect(errorOf(records[1]).line).toBe(3);
    expect(errorOf(records[1]).cause).toMatchObject({ code: 'CSV_QUOTE_NOT_CLOSED' });
  });

  it('reports a stray quote inside a field once and reads on', async () => {
    const path = await file('tasks.csv', 'id,name\n1,a\n2,b"c\n3,c\n');
    const records = await all(openInput(path, 'csv'));
    expect(shape(records).map(([line]) => line)).toEqual([2, 3, 4]);
    expect(errorOf(records[1]).cause).toMatchObject({ code: 'INVALID_OPENING_QUOTE' });
    expect(records[2]).toEqual({ line: 4, task: { id: '3', name: 'c' } });
  });
});

describe('openInput', () => {
  it('picks the format by extension with auto', async () => {
    const json = await file('a.ndjson', '{"a":1}\n');
    const json2 = await file('b.JSON', '{"b":2}\n');
    const csv = await file('c.CSV', 'c\n3\n');
    expect(shape(await all(openInput(json, 'auto')))).toEqual([[1, { a: 1 }]]);
    expect(shape(await all(openInput(json2, 'auto')))).toEqual([[1, { b: 2 }]]);
    expect(shape(await all(openInput(csv, 'auto')))).toEqual([[2, { c: '3' }]]);
  });

  it('refuses an unknown extension with auto, naming the file and the extensions', async () => {
    const path = await file('tasks.txt', '{}\n');
    const open = () => openInput(path, 'auto');
    expect(open).toThrow(SluiceUsageError);
    expect(open).toThrow(expect.objectContaining({ code: 'ERR_SLUICE_USAGE', message: expect.stringContaining(path) }));
    expect(open).toThrow(/\.jsonl.*\.csv/);
    // An explicit format needs no extension.
    expect(shape(await all(openInput(path, 'jsonl')))).toEqual([[1, {}]]);
  });

  it.each(['jsonl', 'csv'] as const)('rejects the iteration for a missing %s file, naming the path', async (format) => {
    const path = join(dir, `missing.${format}`);
    const error: unknown = await all(openInput(path, format)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceUsageError);
    expect((error as SluiceUsageError).message).toContain(path);
    expect((error as SluiceUsageError).cause).toMatchObject({ code: 'ENOENT' });
    await expect(countRecords(path, format)).rejects.toBeInstanceOf(SluiceUsageError);
  });

  it('counts the records it yields, tasks and bad lines alike', async () => {
    const jsonl = await file('t.jsonl', '1\n\nnot json\r\n  \n{"a":2}');
    const csv = await file('t.csv', 'a,b\n1,2\n\n3\n4,5\n"6,7\n');
    for (const path of [jsonl, csv]) {
      const records = await all(openInput(path, 'auto'));
      expect(await countRecords(path, 'auto')).toBe(records.length);
    }
    expect(await countRecords(jsonl, 'jsonl')).toBe(3);
    expect(await countRecords(csv, 'csv')).toBe(4);
  });
});

describe('reading is lazy', () => {
  const LINES = 100_000;
  const PATCHED = 50_000;
  const row = (i: number) => `{"id":"${String(i).padStart(6, '0')}","pad":"${'p'.repeat(40)}"}`;
  const csvRow = (i: number) => `${String(i).padStart(6, '0')},${'p'.repeat(40)}`;

  /** Overwrite line `n` (1-based, all lines `width` bytes plus '\n', after `header` bytes) in place. */
  function patchLine(path: string, header: number, width: number, n: number, text: string): void {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, text.padEnd(width, ' '), header + (n - 1) * (width + 1));
    } finally {
      closeSync(fd);
    }
  }

  it.each([
    { format: 'jsonl' as const, header: '', line: row, bad: '{"broken":' },
    { format: 'csv' as const, header: 'id,pad\n', line: csvRow, bad: 'x,y,z' },
  ])('$format: pulls read only a bounded part of a 100k-line file', async ({ format, header, line, bad }) => {
    const lines = Array.from({ length: LINES }, (_, i) => line(i + 1));
    const path = await file(`big.${format}`, `${header}${lines.join('\n')}\n`);
    const iterator = openInput(path, format)[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) expect(await iterator.next()).toMatchObject({ done: false });
    // Spoil a row in the middle of the file now: only a reader that has not read that far sees it.
    const first = header === '' ? 0 : 1;
    patchLine(path, header.length, line(1).length, PATCHED - first, bad);
    let seen = 10;
    let spoiled: InputRecord | undefined;
    for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) {
      seen++;
      if ('error' in r.value) spoiled = r.value;
    }
    expect(seen).toBe(LINES);
    expect(spoiled?.line).toBe(PATCHED);
  });

  it.each([
    { format: 'jsonl' as const, content: () => Array.from({ length: LINES }, (_, i) => row(i)).join('\n') },
    { format: 'csv' as const, content: () => `id,pad\n${Array.from({ length: LINES }, (_, i) => csvRow(i)).join('\n')}` },
  ])('$format: returning early closes the file', async ({ format, content }) => {
    const path = await file(`big.${format}`, content());
    const iterator = openInput(path, format)[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) await iterator.next();
    const open = fdsOn(path);
    if (open !== undefined) expect(open).toBe(1);
    expect(await iterator.return!()).toEqual({ done: true, value: undefined });
    if (open !== undefined) expect(fdsOn(path)).toBe(0);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });
});

describe('outcomeLine', () => {
  it('writes a completed task with its index, optional line, task and value', () => {
    const ok: Outcome = { ok: true, index: 3, task: { url: 'u' }, value: { n: 1, skip: undefined } };
    expect(JSON.parse(outcomeLine(ok))).toEqual({ ok: true, index: 3, task: { url: 'u' }, value: { n: 1 } });
    expect(outcomeLine(ok, { line: 9 })).toBe('{"ok":true,"index":3,"line":9,"task":{"url":"u"},"value":{"n":1}}');
    expect(outcomeLine({ ok: true, index: 0, task: 1, value: undefined })).toBe('{"ok":true,"index":0,"task":1}');
  });

  it('writes a failure with its stage, attempts and the error with its code, fields and causes', () => {
    class HttpStatusError extends Error {
      override name = 'HttpStatusError';
      code = 'ERR_HTTP_STATUS';
      status = 503;
      headers = { a: 1 };
    }
    let cause: unknown = 'root';
    for (let i = 6; i >= 1; i--) cause = new Error(`level ${i}`, { cause });
    const error = new HttpStatusError('Service Unavailable', { cause });
    const line = outcomeLine({ ok: false, index: 3, task: 't', stage: 'fetch', error, attempts: 3 });
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['ok', 'index', 'task', 'stage', 'attempts', 'error']);
    expect(parsed.error).toMatchObject({
      name: 'HttpStatusError',
      code: 'ERR_HTTP_STATUS',
      message: 'Service Unavailable',
      status: 503,
    });
    expect(parsed.error).not.toHaveProperty('headers');
    expect(parsed.error).not.toHaveProperty('stack');
    let depth = 0;
    for (let e = (parsed.error as { cause?: unknown }).cause; e !== undefined; e = (e as { cause?: unknown }).cause) {
      depth++;
      expect(e).toMatchObject({ name: 'Error', message: `level ${depth}` });
    }
    expect(depth).toBe(5);
  });

  it('writes a thrown value that is not an Error as { value }', () => {
    const line = outcomeLine({ ok: false, index: 0, task: null, stage: 's', error: { reason: 7n }, attempts: 1 });
    expect(JSON.parse(line)).toMatchObject({ error: { value: { reason: '7' } } });
  });

  it('summarises bytes, stringifies bigints, cuts cycles and leaves out functions', () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const shared = { s: 1 };
    const value = {
      buffer: Buffer.alloc(1024),
      view: new Float64Array(4),
      big: 12345678901234567890n,
      cyclic,
      twice: [shared, shared],
      fn: () => 1,
      date: new Date(0),
      nested: new Error('inner'),
    };
    expect(JSON.parse(outcomeLine({ ok: true, index: 1, task: Buffer.from('xyz'), value }))).toEqual({
      ok: true,
      index: 1,
      task: { $bytes: 3 },
      value: {
        buffer: { $bytes: 1024 },
        view: { $bytes: 32 },
        big: '12345678901234567890',
        cyclic: { name: 'c', self: '[Circular]' },
        twice: [{ s: 1 }, { s: 1 }],
        date: '1970-01-01T00:00:00.000Z',
        nested: { name: 'Error', message: 'inner' },
      },
    });
  });

  it('writes an unreadable input record with its line, the error code and fields, and its cause', () => {
    const cause = new SyntaxError("Expected property name or '}' in JSON at position 1");
    const error = new SluiceInputRecordError('tasks.jsonl', 7, 'a JSON value', '{oops', cause, { text: true });
    expect(JSON.parse(inputErrorLine({ line: 7, error }))).toEqual({
      ok: false,
      line: 7,
      stage: 'input',
      error: {
        name: 'SluiceInputRecordError',
        code: 'ERR_SLUICE_INPUT_RECORD',
        message: error.message,
        file: 'tasks.jsonl',
        line: 7,
        expected: 'a JSON value',
        received: '{oops',
        cause: { name: 'SyntaxError', message: cause.message },
      },
    });
  });

  it("keeps what the job's parse() threw: its message, code, fields and cause chain", () => {
    class RangeProblem extends RangeError {
      override name = 'RangeProblem';
      code = 'E_RANGE';
      limit = 100;
    }
    const thrown = new RangeProblem('id 500 is out of range', { cause: new Error('the limit is 100', { cause: 'config' }) });
    const error = new SluiceInputRecordError('t.jsonl', 3, "a record the job's parse() accepts", { id: 500 }, thrown);
    const line = JSON.parse(inputErrorLine({ line: 3, error })) as { error: Record<string, unknown> };
    expect(line.error).toMatchObject({
      code: 'ERR_SLUICE_INPUT_RECORD',
      cause: {
        name: 'RangeProblem',
        code: 'E_RANGE',
        message: 'id 500 is out of range',
        limit: 100,
        cause: { name: 'Error', message: 'the limit is 100', cause: { value: 'config' } },
      },
    });
  });

  it('quotes the text of a bad line once in the message, and a record as JSON', async () => {
    const path = await file('tasks.jsonl', '{"id": 3\n"ok"\n');
    const [record] = await all(openInput(path, 'jsonl'));
    const error = errorOf(record);
    // The text as it is in the file, between backticks: no JSON string quotes, no escaped quotes.
    expect(error.message).toBe(`${path}:1: expected a JSON value, got \`{"id": 3\` (text)`);
    expect(error.received).toBe('{"id": 3');
    const csv = await file('tasks.csv', 'a,b\n1,2,3\n');
    const [row] = await all(openInput(csv, 'csv'));
    expect(errorOf(row).message).toContain('got `1,2,3` (text)');
    // A parsed record that the job's parse() rejects is a value: shown as JSON, with its type.
    expect(new SluiceInputRecordError('t.jsonl', 2, 'a task', 'three').message).toBe('t.jsonl:2: expected a task, got `"three"` (string)');
  });
});

describe('probeInput: an input file is checked before the run', () => {
  it('passes a readable file in every format, and a .json file that holds JSON Lines', async () => {
    const lines = [
      await file('a.jsonl', '{"n":1}\n{"n":2}\n'),
      await file('b.json', '{"n":1}\n{"n":2}\n'),
      await file('c.json', '[1,2]\n[3,4]\n'),
      await file('d.json', '{"n":1}\n'),
      await file('e.json', ''),
      await file('f.csv', 'n\n1\n'),
      await file('g.json', '"text"\n'),
    ];
    for (const path of lines) await expect(probeInput(path, 'auto')).resolves.toEqual({ regular: true });
  });

  it.each([
    ['a missing file', (d: string) => join(d, 'missing.jsonl'), 'ENOENT'],
    ['a directory', (d: string) => join(d, 'dir.jsonl'), 'EISDIR'],
    ['a dangling link', (d: string) => join(d, 'link.csv'), 'ENOENT'],
  ])('refuses %s with a usage error naming the path', async (_what, pathOf, code) => {
    await mkdir(join(dir, 'dir.jsonl'));
    await symlink(join(dir, 'nowhere.csv'), join(dir, 'link.csv'));
    const path = pathOf(dir);
    const error: unknown = await probeInput(path, 'auto').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceUsageError);
    expect(error).toMatchObject({ code: 'ERR_SLUICE_USAGE', message: expect.stringContaining(path), cause: { code } });
  });

  it.each([
    ['one JSON array on one line', '[{"n":1},{"n":2}]\n', '.[]'],
    ['a pretty-printed JSON array', '[\n  {"n": 1},\n  {"n": 2}\n]\n', '.[]'],
    ['a pretty-printed JSON object', '\n{\n  "tasks": [1, 2]\n}\n', '.'],
  ])('refuses a .json file that holds %s, with the jq command and the flag that reads it anyway', async (_what, content, filter) => {
    const path = await file('tasks.json', content);
    const error: unknown = await probeInput(path, 'auto').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceUsageError);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toContain(`jq -c '${filter}' ${path} > ${join(dir, 'tasks')}.jsonl`);
    expect(message).toContain('--input-format jsonl');
    // Forced to JSON Lines, or named .jsonl, the same file is read line by line.
    await expect(probeInput(path, 'jsonl')).resolves.toEqual({ regular: true });
    const jsonl = await file('tasks.jsonl', content);
    await expect(probeInput(jsonl, 'auto')).resolves.toEqual({ regular: true });
  });

  it('checks a named pipe without reading from it (every record stays for the run)', async () => {
    const fifo = join(dir, 'tasks.jsonl');
    execFileSync('mkfifo', [fifo]);
    // Opening a pipe for reading would wait for a writer, and reading would take its records.
    await expect(probeInput(fifo, 'auto')).resolves.toEqual({ regular: false });
    await expect(probeInput(await file('t.jsonl', '1\n'), 'auto')).resolves.toEqual({ regular: true });
  });

  it('judges a .json file by its first values: a bad later line is a record error in the run, not a refusal', async () => {
    const path = await file('tasks.json', `{"n":0}\n{"n":\n[\n`);
    await expect(probeInput(path, 'auto')).resolves.toEqual({ regular: true });
    expect((await all(openInput(path, 'auto'))).map((r) => 'error' in r)).toEqual([false, true, true]);
  });
});

describe('openOutput', () => {
  it('writes through stdout for - and for no path, the pending lines in one call at close', async () => {
    for (const path of ['-', undefined]) {
      const out: string[] = [];
      const sink = openOutput(path, (lines) => out.push(lines));
      sink.write('a');
      sink.write('b');
      await sink.close();
      expect(out).toEqual(['a\nb']);
      expect(sink.lines).toBe(2);
    }
  });

  it('puts the lines in the file a batch at a time (here at flush), and closes once', async () => {
    const path = join(dir, 'out.jsonl');
    await writeFile(path, 'old content that must go\n');
    const sink = openOutput(path, () => {
      throw new Error('not stdout');
    });
    expect(readFileSync(path, 'utf8')).toBe('');
    sink.write('{"n":1}');
    sink.flush();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n');
    sink.write('{"n":2,"s":"é"}');
    sink.flush();
    expect(readFileSync(path, 'utf8')).toBe('{"n":1}\n{"n":2,"s":"é"}\n');
    expect(sink.lines).toBe(2);
    await sink.close();
    await sink.close();
    expect(() => sink.write('late')).toThrow(SluiceStateError);
    expect(readFileSync(path, 'utf8').split('\n')).toEqual(['{"n":1}', '{"n":2,"s":"é"}', '']);
  });

  it('checkOutput refuses what cannot be written, without creating or truncating anything', async () => {
    const input = await file('tasks.jsonl', '{"n":1}\n');
    const existing = await file('out.jsonl', 'precious\n');
    const missingDir = join(dir, 'no-such-dir', 'out.jsonl');
    await mkdir(join(dir, 'adir'));
    const cases: Array<[string | undefined, string]> = [
      [missingDir, 'no-such-dir'],
      [join(dir, 'adir'), 'directory'],
      [join(input, 'out.jsonl'), 'tasks.jsonl'],
      [input, 'input file'],
    ];
    for (const [path, named] of cases) {
      const check = () => checkOutput(path, input);
      expect(check).toThrow(SluiceUsageError);
      expect(check).toThrow(expect.objectContaining({ code: 'ERR_SLUICE_USAGE', message: expect.stringContaining(named) }));
    }
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    expect(readFileSync(input, 'utf8')).toBe('{"n":1}\n');
    // A writable existing file, a new file in an existing directory, and stdout pass; nothing is touched.
    for (const path of [existing, join(dir, 'new.jsonl'), '-', undefined]) expect(() => checkOutput(path, input)).not.toThrow();
    expect(readFileSync(existing, 'utf8')).toBe('precious\n');
    expect(existsSync(join(dir, 'new.jsonl'))).toBe(false);
  });

  it('refuses a path whose directory is missing, naming the path', () => {
    const path = join(dir, 'no-such-dir', 'out.jsonl');
    const open = () => openOutput(path, () => {});
    expect(open).toThrow(SluiceUsageError);
    expect(open).toThrow(
      expect.objectContaining({ message: expect.stringContaining(path), cause: expect.objectContaining({ code: 'ENOENT' }) }),
    );
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });
});
