/**
 * Binary payloads sent to a cpu stage are moved, not copied: the sender's buffer is detached after
 * the hand-off. A stage can opt out, and a Buffer cut from Node's shared pool is always copied
 * (moving it would detach the pool under every other small Buffer).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createExecutor, cpu, type Executor } from '../src/index.js';
import { collectTransferables } from '../src/wire/transfer.js';

const echoWorker = new URL('./fixtures/echo.ts', import.meta.url);

interface Echoed {
  readonly received: number;
  readonly answer: Uint8Array;
}

let executor: Executor<{ body: Uint8Array; answerBytes: number }, Echoed> | undefined;
afterEach(async () => {
  await executor?.close();
  executor = undefined;
});

async function runOne(input: { body: Uint8Array; answerBytes: number }, transfer?: boolean): Promise<Echoed> {
  executor = createExecutor({ stages: [cpu('echo', echoWorker, { threads: 1, ...(transfer === undefined ? {} : { transfer }) })] });
  const outcomes = [];
  for await (const o of executor.run([input])) outcomes.push(o);
  const [o] = outcomes;
  if (!o?.ok) throw new Error(`echo failed: ${String(o && !o.ok ? o.error : 'no outcome')}`);
  return o.value;
}

describe('binary payloads to and from a cpu stage', () => {
  it('moves a buffer that owns its memory to the worker, and gets a binary answer back', async () => {
    const body = Buffer.allocUnsafeSlow(1 << 20).fill(1);
    const result = await runOne({ body, answerBytes: 1 << 20 });
    expect(result.received).toBe(1 << 20);
    expect(body.buffer.byteLength).toBe(0); // detached: it went to the worker without a copy
    expect(result.answer.byteLength).toBe(1 << 20);
    expect(result.answer[0]).toBe(7);
  });

  it('copies instead when the stage opts out', async () => {
    const body = new Uint8Array(1 << 16).fill(2);
    const result = await runOne({ body, answerBytes: 8 }, false);
    expect(result.received).toBe(1 << 16);
    expect(body.byteLength).toBe(1 << 16);
    expect(body[100]).toBe(2);
  });

  it('copies a pooled Buffer and leaves the pool intact', async () => {
    const neighbour = Buffer.from('neighbour');
    const body = Buffer.from('small payload from the shared pool');
    expect(body.buffer).toBe(neighbour.buffer); // both live in Node's allocation pool
    const result = await runOne({ body, answerBytes: 4 });
    expect(result.received).toBe(body.length);
    expect(neighbour.toString()).toBe('neighbour');
    expect(body.toString()).toBe('small payload from the shared pool');
  });
});

describe('collectTransferables', () => {
  it('finds whole-buffer views and ArrayBuffers in arrays and plain objects, once each', () => {
    const a = new ArrayBuffer(8);
    const b = new Uint8Array(16);
    const partial = new Uint8Array(new ArrayBuffer(32), 8, 8);
    const shared = new Uint8Array(new SharedArrayBuffer(8));
    const found = collectTransferables({ a, list: [b, b, partial], nested: { deeper: { a } }, shared, n: 1, s: 'x' });
    expect(found).toHaveLength(2);
    expect(found).toContain(a);
    expect(found).toContain(b.buffer);
  });

  it('leaves class instances and primitives alone', () => {
    class Box {
      readonly data = new Uint8Array(4);
    }
    expect(collectTransferables(new Box())).toEqual([]);
    expect(collectTransferables(42)).toEqual([]);
    expect(collectTransferables(null)).toEqual([]);
  });
});
