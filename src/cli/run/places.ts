/**
 * Where each open task of a run came from. The executor numbers the tasks it pulls 0, 1, 2, ...
 * in pull order, which on a resume is not their place in the input: this map from the executor's
 * index to the task's place (position, key, index among the input's tasks, line, record) is filled
 * as the input yields a task and emptied as its outcome arrives, so it holds only the open tasks
 * (bounded by the run's buffers), and its keys are the keys in flight a journal commit records.
 */
import type { TaskPlace } from './tasks.js';

export interface TaskPlaces {
  /** The next task pulled is at `place`. */
  pulled(place: TaskPlace): void;
  /** The place of the task the executor numbered `index`, now settled: removed from the map. */
  take(index: number): TaskPlace | undefined;
  /** The place of an open task. */
  get(index: number): TaskPlace | undefined;
  /** The keys of the open tasks. */
  inFlight(): string[];
  /** Tasks pulled that have no outcome yet. */
  readonly open: number;
  /**
   * Resolves once no task is open (at once when none is). It settles a microtask after the `take`
   * that emptied the map: a caller that writes the outcome's line right after `take`, with no
   * await between them, has written it by then.
   */
  idle(): Promise<void>;
}

export function createTaskPlaces(): TaskPlaces {
  const places = new Map<number, TaskPlace>();
  let pulled = 0;
  let waiters: Array<() => void> = [];
  return {
    pulled(place) {
      places.set(pulled++, place);
    },
    take(index) {
      const place = places.get(index);
      places.delete(index);
      if (places.size === 0 && waiters.length > 0) {
        const wake = waiters;
        waiters = [];
        for (const resolve of wake) resolve();
      }
      return place;
    },
    get: (index) => places.get(index),
    inFlight: () => Array.from(places.values(), (place) => place.key),
    get open() {
      return places.size;
    },
    idle() {
      if (places.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}
