/** The signal of a cpu task with a timeout (a stage's `timeoutMs`). */
import { SluiceTimeoutError } from '../errors.js';

/**
 * A timed task's own signal: it follows the run's, and aborts with a `SluiceTimeoutError` naming
 * the stage once `timeoutMs` have passed. Cleared when the task settles, however it settles.
 */
export class TaskTimer {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal;
  readonly #timer: NodeJS.Timeout;
  readonly #onAbort = (): void => this.#controller.abort(this.#outer.reason);
  error: SluiceTimeoutError | undefined;

  constructor(stage: string, timeoutMs: number, outer: AbortSignal) {
    this.#outer = outer;
    if (outer.aborted) this.#controller.abort(outer.reason);
    else outer.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.error = new SluiceTimeoutError({ stage, kind: 'cpu' }, timeoutMs);
      this.#controller.abort(this.error);
    }, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get fired(): boolean {
    return this.error !== undefined;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#outer.removeEventListener('abort', this.#onAbort);
  }
}
