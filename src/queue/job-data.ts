/**
 * What a queue's job holds (its `data`), and what its outcome is stored as. BullMQ keeps both as
 * JSON. A completed job's return value is `{ v: value }` (the last stage's value as `toJson` makes
 * it); a failed job's reason (BullMQ keeps the message only) is the JSON of `FailedReason`.
 */

export interface JobData {
  /** The task's key. */
  readonly k: string;
  /** Its record's position in the input. */
  readonly p: number;
  /** Its index among the input's tasks. */
  readonly i: number;
  /** Its line in the input file. */
  readonly l?: number;
  /** The task. */
  readonly t: unknown;
}

export interface StoredValue {
  readonly v: unknown;
}

export interface FailedReason {
  readonly stage: string;
  readonly attempts: number;
  /** The error as `errorJson` gives it. */
  readonly error: unknown;
}

/** Whether a job's data is what sluice enqueued. */
export function isJobData(data: unknown): data is JobData {
  const d = data as Partial<JobData> | null;
  return d !== null && typeof d === 'object' && typeof d.k === 'string' && typeof d.p === 'number' && typeof d.i === 'number' && 't' in d;
}
