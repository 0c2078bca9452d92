/**
 * The demo's cpu stage: turns one fetched document (large) into a summary of it (moderate):
 * word counts, the ten most frequent words, and a sha256 digest of the raw body.
 *
 * It runs on a worker thread and stands apart from the pipeline: it imports only node:crypto.
 */
import { createHash } from 'node:crypto';

export interface SynthesisInput {
  readonly id: number;
  /** The document's raw bytes (moved here from the main thread, not copied). */
  readonly body: Uint8Array;
}

export interface WordCount {
  readonly word: string;
  readonly count: number;
}

export interface Synthesis {
  readonly id: number;
  readonly bytes: number;
  readonly characters: number;
  readonly words: number;
  readonly distinct: number;
  /** The ten most frequent words, most frequent first (ties in alphabetical order). */
  readonly top: readonly WordCount[];
  /** sha256 of the raw body, hex. */
  readonly sha256: string;
}

const TOP = 10;
// Letters and digits, with inner apostrophes ("don't"): the words a reader would count.
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;
const decoder = new TextDecoder('utf-8');

export default function synthesize(input: SynthesisInput): Synthesis {
  if (input === null || typeof input !== 'object' || !(input.body instanceof Uint8Array)) {
    throw new TypeError(`Expected the input to be { id, body: Uint8Array }, got ${describe(input)}`);
  }
  const { id, body } = input;
  const text = decoder.decode(body).toLowerCase();
  const counts = new Map<string, number>();
  let words = 0;
  for (const match of text.matchAll(WORD)) {
    const word = match[0];
    counts.set(word, (counts.get(word) ?? 0) + 1);
    words += 1;
  }
  return {
    id,
    bytes: body.byteLength,
    characters: text.length,
    words,
    distinct: counts.size,
    top: topWords(counts, TOP),
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}

function topWords(counts: ReadonlyMap<string, number>, n: number): WordCount[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([word, count]) => ({ word, count }));
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return `${String(value)} (${value === null ? 'null' : typeof value})`;
  const body = (value as { body?: unknown }).body;
  return `an object whose body is ${body === undefined ? 'missing' : Object.prototype.toString.call(body)}`;
}
