/** What the scale-out bench's nodes (worker-child.ts) and the scenario share. */

/** Width of a bucket of outcomes, ms. */
export const BUCKET_MS = 100;

/** What a node reports at its end. */
export interface NodeReport {
  readonly mode: 'queue' | 'direct';
  readonly reason: string;
  readonly error?: string;
  /** Outcomes seen (ok and failed). */
  readonly outcomes: number;
  readonly failed: number;
  /** Epoch ms of the first and last outcome. */
  readonly firstAt?: number;
  readonly lastAt?: number;
  /** Outcomes per bucket: [bucket start / BUCKET_MS, outcomes, failed outcomes]. */
  readonly buckets: readonly (readonly [number, number, number])[];
  /** The worker's own counters (queue mode). */
  readonly stats?: {
    readonly claimed: number;
    readonly completed: number;
    readonly failed: number;
    readonly handedBack: number;
    readonly dropped: number;
    readonly stalledFailed: number;
    readonly peakHeld: number;
  };
  /** Worker events by type (lock lost, Redis errors...). */
  readonly events: Readonly<Record<string, number>>;
  /** Causes of failed outcomes, by message (ids removed). */
  readonly causes: Readonly<Record<string, number>>;
}
