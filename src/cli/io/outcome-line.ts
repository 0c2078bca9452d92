/**
 * One JSON line per outcome, for the output file of `sluice run`. Anything a task, a value or an
 * error may hold becomes valid JSON: bytes are summarised (never dumped), bigints become strings,
 * cycles are cut, and errors keep their name, code, message, primitive fields and causes.
 */
import { errorJson, toJson, type Outcome } from '../../index.js';
import type { SluiceInputRecordError } from '../errors.js';

/**
 * The outcome as one JSON line (no trailing newline):
 * `{"ok":true,"index":3,"task":…,"value":…}` or
 * `{"ok":false,"index":3,"task":…,"stage":"fetch","attempts":3,"error":{"name":…,"message":…}}`.
 * `extra.line`, the task's line in the input file, follows `index` when given.
 */
export function outcomeLine(outcome: Outcome, extra?: { line?: number }): string {
  const head = { ok: outcome.ok, index: outcome.index, line: extra?.line, task: toJson(outcome.task) };
  const body = outcome.ok
    ? { ...head, value: toJson(outcome.value) }
    : { ...head, stage: outcome.stage, attempts: outcome.attempts, error: errorJson(outcome.error, 0, new Set()) };
  return JSON.stringify(body);
}

/**
 * A record of the input file that could not be read, or that the job's `parse()` rejected, as one
 * JSON line: `{"ok":false,"line":7,"stage":"input","error":{"name":"SluiceInputRecordError",
 * "code":"ERR_SLUICE_INPUT_RECORD","message":…,"file":…,"line":7,"expected":…,"cause":{…}}}`.
 * The error keeps its fields and its causes as a task's error does: the `SyntaxError` of a line
 * that is not JSON, the csv-parse error of a bad row, or what `parse()` threw (message and code).
 */
export function inputErrorLine(record: { line: number; error: SluiceInputRecordError }): string {
  return JSON.stringify({
    ok: false,
    line: record.line,
    stage: 'input',
    error: errorJson(record.error, 0, new Set()),
  });
}
