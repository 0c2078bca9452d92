/**
 * What crosses a bridged cpu stage's links: the bridge's part of `workerData`, the task message,
 * the name of a thread's link home and the tags of the messages on it. Both halves of the bridge
 * (../bridge/main.ts on the main thread, ../worker/context.ts in the worker) import this; it
 * imports nothing.
 */

/** What the worker entry learns about the bridge from `workerData` (absent on plain stages). */
export interface BridgeData {
  /** Unique to the stage's bridge: names its links. */
  readonly key: string;
  /** The names of the exposed functions. */
  readonly names: readonly string[];
  /** Whether the stage listens to progress (else `progress()` sends nothing). */
  readonly progress: boolean;
}

/** The task message of a bridged stage: a plain stage's (./envelope.ts's `TaskMessage`), with the task's id. */
export interface BridgedTask {
  readonly input: unknown;
  readonly index: number;
  readonly key: string | undefined;
  /** Names the task on the thread's link (unique per stage, unlike an index across runs). */
  readonly id: number;
}

/** The BroadcastChannel name of a thread's link home: only the thread and the main side use it. */
export function linkName(key: string, threadId: number): string {
  return `sluice-bridge:${key}:${threadId}`;
}

/** Tag of a progress message on a link (comlink's own messages never carry it). */
export const PROGRESS_KEY = 'sluiceProgress';

/** One `ctx.progress(value)` of a task, on its thread's link. */
export interface ProgressMessage {
  readonly [PROGRESS_KEY]: true;
  readonly id: number;
  readonly value: unknown;
}

export function isProgress(data: unknown): data is ProgressMessage {
  return data !== null && typeof data === 'object' && PROGRESS_KEY in data;
}

/**
 * An exposed function's error travels under this key as plain data: comlink's own error handling
 * keeps only message, name and stack, and would lose `code`, `cause` and other properties.
 */
export const REMOTE_ERROR_KEY = 'sluiceRemoteError';
