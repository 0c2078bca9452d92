/**
 * The memory scenario's CPU step: a light checksum over the whole payload (Fletcher-style sums of
 * its 32-bit words, `SLUICE_MEMORY_PASSES` passes, default 1), so every page of the payload is read
 * on the worker thread, the work stays well under a millisecond, and the answer is one number.
 * Node builtins only; it never imports the pipeline.
 */
const PASSES = Math.max(1, Number(process.env.SLUICE_MEMORY_PASSES ?? '1'));

export default function checksum(body: Uint8Array): number {
  const words = new Uint32Array(body.buffer, body.byteOffset, body.byteLength >>> 2);
  let a = 1;
  let b = 0;
  for (let p = 0; p < PASSES; p++) {
    for (let i = 0; i < words.length; i++) {
      a = (a + words[i]!) >>> 0;
      b = (b + a) >>> 0;
    }
  }
  return b;
}
