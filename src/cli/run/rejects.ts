/**
 * Rejected input records on stderr: the first few in full (with what the parser or the job's
 * `parse()` threw), then one line saying how many more went to the output. Every one of them is
 * also an outcome line in the output.
 */
import type { SluiceInputRecordError } from '../errors.js';

export interface RejectLog {
  /** Counts a rejected record; shows it while fewer than `shown` have been. */
  add(error: SluiceInputRecordError): void;
  /** The closing line when some were not shown, else undefined. `output` names where they went. */
  rest(output: string): string | undefined;
}

export function createRejectLog(note: (line: string) => void, shown: number): RejectLog {
  let count = 0;
  return {
    add(error) {
      count += 1;
      if (count <= shown) note(`sluice: skipped input record ${error.message}${causeText(error.cause)}`);
    },
    rest(output) {
      const more = count - shown;
      if (more <= 0) return undefined;
      return `sluice: ${more} more input record${more === 1 ? ' was' : 's were'} skipped; each has a line with "stage":"input" in ${output}`;
    },
  };
}

/** ` (TypeError E_CODE: message)` for the cause a record was rejected with; empty without one. */
function causeText(cause: unknown): string {
  if (cause === undefined) return '';
  if (!(cause instanceof Error)) return ` (threw ${String(cause)})`;
  const code = (cause as { code?: unknown }).code;
  return ` (${cause.name}${typeof code === 'string' || typeof code === 'number' ? ` ${code}` : ''}: ${cause.message})`;
}
