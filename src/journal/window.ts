/**
 * The watermark of settled input positions: every position below `watermark` is settled, and the
 * positions settled above it (tasks that finished out of order) are bits in a window that starts at
 * the watermark's word. The window holds only the out-of-order stretch (about the number of tasks in
 * flight), never every key: a resume of ten million tasks keeps a few words, not a set of keys.
 *
 * A position farther than `MAX_SPAN` beyond the window's start is not remembered: the watermark
 * then stops at the first such position, which is conservative (the journal still holds the task,
 * and `isSettled` finds it by key), never wrong.
 */

/** The farthest a remembered position lies beyond the window's start: 2^24 positions, 2 MiB of bits. */
const MAX_SPAN = 2 ** 24;

export class SettledWindow {
  #watermark: number;
  /** The position of bit 0 of word 0: a multiple of 32, at most the watermark. */
  #base: number;
  #words: Uint32Array;

  constructor(watermark: number) {
    this.#watermark = watermark;
    this.#base = watermark - (watermark % 32);
    this.#words = new Uint32Array(64);
  }

  /** Every position below it is settled. */
  get watermark(): number {
    return this.#watermark;
  }

  has(position: number): boolean {
    if (position < this.#watermark) return true;
    const offset = position - this.#base;
    const word = Math.floor(offset / 32);
    return word < this.#words.length && (this.#words[word]! & (1 << (offset % 32))) !== 0;
  }

  /**
   * Marks a position settled, advancing the watermark over every settled position it reaches.
   * @returns false when the window cannot hold it (past its span): it is not remembered.
   */
  add(position: number): boolean {
    if (position < this.#watermark) return true;
    let offset = position - this.#base;
    if (offset >= this.#words.length * 32) {
      this.#compact();
      offset = position - this.#base;
      if (offset >= MAX_SPAN) return false;
      if (offset >= this.#words.length * 32) this.#grow(Math.floor(offset / 32) + 1);
    }
    this.#words[Math.floor(offset / 32)]! |= 1 << (offset % 32);
    if (position === this.#watermark) this.#advance();
    return true;
  }

  #advance(): void {
    const words = this.#words;
    let offset = this.#watermark - this.#base;
    for (;;) {
      const word = Math.floor(offset / 32);
      if (word >= words.length) break;
      const bits = words[word]!;
      // A full word past the first bit: skip 32 positions at once.
      if (offset % 32 === 0 && bits === 0xffffffff) {
        offset += 32;
        continue;
      }
      if ((bits & (1 << (offset % 32))) === 0) break;
      offset += 1;
    }
    this.#watermark = this.#base + offset;
    // Drop the words wholly below the watermark once they are half the window (amortized O(1)).
    if (Math.floor(offset / 32) * 2 >= words.length) this.#compact();
  }

  /** Moves the window's start to the watermark's word, dropping the words below it. */
  #compact(): void {
    const shift = Math.floor((this.#watermark - this.#base) / 32);
    if (shift === 0) return;
    const words = this.#words;
    if (shift >= words.length) words.fill(0);
    else {
      words.copyWithin(0, shift);
      words.fill(0, words.length - shift);
    }
    this.#base += shift * 32;
  }

  #grow(needed: number): void {
    let length = this.#words.length * 2;
    while (length < needed) length *= 2;
    const words = new Uint32Array(length);
    words.set(this.#words);
    this.#words = words;
  }
}
