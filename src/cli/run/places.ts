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
}

export function createTaskPlaces(): TaskPlaces {
  const places = new Map<number, TaskPlace>();
  let pulled = 0;
  return {
    pulled(place) {
      places.set(pulled++, place);
    },
    take(index) {
      const place = places.get(index);
      places.delete(index);
      return place;
    },
    get: (index) => places.get(index),
    inFlight: () => Array.from(places.values(), (place) => place.key),
    get open() {
      return places.size;
    },
  };
}
