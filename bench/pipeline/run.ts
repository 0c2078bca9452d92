/**
 * One run of the pipeline scenario: a fresh strategy child (bench/pipeline/child.ts) through the
 * bench's child harness, killed on a timeout or when its RSS passes a cap, and its `RESULT` line.
 */
import { fileURLToPath } from 'node:url';
import { lastError, startChild } from '../harness/child.js';
import type { ChildResult } from './meter.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export type Status = 'ok' | 'errors' | 'timeout' | 'crash' | 'rss-limit';

export interface ChildOutcome {
  readonly status: Status;
  readonly result?: ChildResult;
  /** Why a run failed, one line. */
  readonly note?: string;
}

export interface ChildOptions {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly rssLimitMiB: number;
}

/** Runs the strategy child once and reads its `RESULT` line. */
export async function runStrategyChild(o: ChildOptions): Promise<ChildOutcome> {
  const child = startChild({
    args: ['--import', 'tsx', CHILD, ...o.args],
    env: o.env,
    timeoutMs: o.timeoutMs,
    rss: { limitMiB: o.rssLimitMiB, everyMs: 100 },
  });
  let line: string | undefined;
  child.on('RESULT', (payload) => (line = payload));
  const e = await child.exited;
  if (e.killed === 'timeout') return { status: 'timeout', note: `killed after ${(o.timeoutMs / 1000).toFixed(0)} s` };
  if (e.killed === 'rss-limit') return { status: 'rss-limit', note: `killed: RSS over ${o.rssLimitMiB} MiB` };
  if (line === undefined) return { status: 'crash', note: lastError(e.stderr, `exit ${e.code ?? e.signal}`) };
  const result = JSON.parse(line) as ChildResult;
  if (result.failed > 0) return { status: 'errors', result, note: `${result.failed} failed: ${result.firstError ?? '?'}` };
  return { status: 'ok', result };
}
