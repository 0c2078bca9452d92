/**
 * `sluice results --queue NAME [--failed] [--output FILE|-]`: every outcome a queue kept, as the
 * JSON lines `sluice run` writes (`{"ok":true,"index":…,"line":…,"task":…,"value":…}`, or with
 * `stage`, `attempts` and `error` for a failure), each task once, in the order they finished.
 *
 * To a FILE, the lines go to `FILE.tmp-PID` in the same folder, which is renamed over FILE once the
 * whole read succeeded: until then FILE is untouched, and a failure removes the temporary file.
 * Stderr: the counts, and a warning when jobs are still waiting, active or delayed (their results
 * are not in this read). Exit 0 every result ok, 1 some failed, 2 refused (usage, config, a queue
 * nothing was enqueued on, Redis unreachable).
 */
import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { queueResults, queueStatus, toJson, type QueueResult } from '../../index.js';
import type { CliIo } from '../io.js';
import { checkOutput, openOutput, type OutcomeSink } from '../io/output.js';
import { EXIT } from '../run/exit.js';
import { SluiceQueueError } from '../../index.js';
import type { QueueCommandSpec } from './args.js';
import { noPositionals, runQueueCommand } from './command.js';

const USAGE_LINE = 'Usage: sluice results --queue NAME [--failed] [--output FILE|-] [options]';

const SPEC: QueueCommandSpec = {
  runFlags: ['output', 'config'],
  queueFlags: ['queue', 'redis', 'prefix'],
  booleans: { failed: 'only the failed tasks' },
};

const HELP = [
  USAGE_LINE,
  '',
  'Every outcome the queue kept, as the JSON lines `sluice run` writes, each task once. To --output FILE, the file',
  'is replaced only once the whole read succeeded. Once everything was read while nothing was waiting or',
  'active, `sluice queue clean` may remove the results.',
  'Exit codes: 0 every task completed, 1 some failed, 2 refused.',
  '',
];

export async function resultsCommand(argv: readonly string[], rawIo: CliIo): Promise<number> {
  const def = { name: 'results', spec: SPEC, help: HELP, usage: USAGE_LINE, check: noPositionals };
  return runQueueCommand(argv, rawIo, def, async ({ io, parsed, config, target }) => {
    const cwd = rawIo.cwd ?? process.cwd();
    const output = config.output === undefined || config.output === '-' ? undefined : resolve(cwd, config.output);
    checkOutput(output);

    const status = await queueStatus(target);
    if (status.job === undefined) {
      throw new SluiceQueueError(
        target.queue,
        `queue ${target.queue} on ${status.redis} has no tasks of sluice's (nothing was enqueued on it, or it was cleaned --all)`,
      );
    }
    const { waiting, active, delayed } = status.counts;
    if (waiting + active + delayed > 0) {
      io.err(
        `sluice results: warning: queue ${target.queue} still has ${waiting} waiting, ${active} active and ${delayed} delayed ` +
          "job(s): their results are not in this read (sluice status --queue shows the workers' progress)",
      );
    }

    const temp = output === undefined ? undefined : join(dirname(output), `${basename(output)}.tmp-${process.pid}`);
    let sink: OutcomeSink | undefined;
    let completed = 0;
    let failed = 0;
    try {
      sink = openOutput(temp, (lines) => io.out(lines));
      for await (const result of queueResults({ ...target, failed: parsed.booleans.failed === true })) {
        sink.write(resultLine(result));
        if (result.ok) completed += 1;
        else failed += 1;
      }
      await sink.close();
      if (temp !== undefined && output !== undefined) renameSync(temp, output);
    } catch (error) {
      await sink?.close().catch(() => undefined);
      if (temp !== undefined) rmSync(temp, { force: true });
      throw error;
    }
    const where = output === undefined ? '' : ` to ${output}`;
    io.err(
      `sluice results: ${completed + failed} result(s) of queue ${target.queue} at ${status.redis}${where}: ` +
        `${completed} completed, ${failed} failed`,
    );
    return failed > 0 ? EXIT.failed : EXIT.ok;
  });
}

/**
 * A result as the line `sluice run` writes for its outcome (io/outcome-line.ts): the same keys in
 * the same order. The stored value and error are JSON already (the worker stored them as `toJson`
 * and `errorJson` made them), so they are written as they are.
 */
export function resultLine(result: QueueResult): string {
  const head = { ok: result.ok, index: result.index, line: result.line, task: toJson(result.task) };
  const body = result.ok
    ? { ...head, value: toJson(result.value) }
    : { ...head, stage: result.stage, attempts: result.attempts, error: toJson(result.error) };
  return JSON.stringify(body);
}
