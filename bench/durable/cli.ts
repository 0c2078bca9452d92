/**
 * One `sluice run` of the durable scenario, through the bench's child harness: the CLI of the
 * built package (`node <package bin> run JOB ...`, its path from sluice's package.json), with
 * `--log json` so its summary is one JSON line on stderr. A journaled run writes `--output FILE`;
 * a run with journaling off writes `--output -` with its stdout given a file by the harness (the CLI
 * has no way to write a file without a journal); a keyed run is a journaled one with
 * SLUICE_BENCH_KEYED=1 in the job's environment. The record holds the summary, the paced job's CPU
 * line, the harness's spawn-to-`FIRST` and spawn-to-exit times, and the output checked line by line.
 */
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastError, startChild } from '../harness/child.js';

/** The CLI entry of the installed package: its package.json's `bin.sluice`. */
function cliPath(): string {
  const manifest = createRequire(import.meta.url).resolve('sluice/package.json');
  const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { sluice: string } }).bin.sluice;
  return join(dirname(manifest), bin);
}

export const CLI = cliPath();
export const NOOP_JOB = fileURLToPath(new URL('./noop-job.mjs', import.meta.url));
export const PACED_JOB = fileURLToPath(new URL('./paced-job.mjs', import.meta.url));

/**
 * `journaled`: `--output FILE` (the default journal); `keyed`: the same, the job giving its own task
 * keys ($SLUICE_BENCH_KEYED: the no-op job's `key`); `durable`: journaled with `--durable`; `off`:
 * `--output -` into a file.
 */
export type Mode = 'journaled' | 'keyed' | 'durable' | 'off';

/** The key the no-op job gives task `task` in mode `keyed` (noop-job.mjs). */
export const keyOf = (task: number): string => `doc-${task}`;

export interface CliRun {
  readonly job: string;
  readonly mode: Mode;
  readonly output: string;
  /** The job's environment: SLUICE_BENCH_TASKS and the like. */
  readonly env: Readonly<Record<string, string>>;
  /** More flags (`--resume`). */
  readonly flags?: readonly string[];
  readonly timeoutMs: number;
  /** Wait for the job's `FIRST` line (a journaled run with SLUICE_BENCH_MARK: stdout is free). */
  readonly mark?: boolean;
}

/** The parts of the CLI's JSON summary the scenario reads. */
export interface Summary {
  readonly elapsedMs: number;
  readonly tasks: number;
  readonly completed: number;
  readonly failed: number;
  readonly lines: number;
  readonly tasksPerSecond: number;
  readonly peakRssBytes: number;
  readonly resumed?: boolean;
  readonly skipped?: number;
}

/** The paced job's own measure of its paced window. */
export interface Pace {
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly tasks: number;
}

export interface CliResult {
  readonly code: number | null;
  readonly summary?: Summary;
  readonly pace?: Pace;
  /** From the spawn to the job's `FIRST` line (its first task in the stage), ms. */
  readonly firstMs?: number;
  /** From the spawn to the process's exit, ms. */
  readonly exitMs: number;
  /** Why the run did not end with a summary and code 0. */
  readonly note?: string;
}

/** Runs the CLI once; never throws for the child's failure (the result says it). */
export async function runCli(o: CliRun): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  Object.assign(env, o.env, o.mark === true ? { SLUICE_BENCH_MARK: '1' } : {}, o.mode === 'keyed' ? { SLUICE_BENCH_KEYED: '1' } : {});
  const output = o.mode === 'off' ? '-' : o.output;
  const args = [CLI, 'run', o.job, '--output', output, '--log', 'json', '--log-interval', '600000'];
  if (o.mode === 'durable') args.push('--durable');
  args.push(...(o.flags ?? []));
  const fd = o.mode === 'off' ? openSync(o.output, 'w') : undefined;
  const t0 = performance.now();
  let firstMs: number | undefined;
  try {
    const child = startChild({ args, env, timeoutMs: o.timeoutMs, ...(fd !== undefined ? { stdoutFd: fd } : {}) });
    if (o.mark === true) child.on('FIRST', () => (firstMs ??= performance.now() - t0));
    const e = await child.exited;
    const exitMs = performance.now() - t0;
    const summary = lastJson<Summary & { type: string }>(e.stderr, '{"type":"summary"');
    const paceLine = e.stderr.split('\n').findLast((l) => l.startsWith('SLUICE_BENCH_PACE '));
    const pace = paceLine !== undefined ? (JSON.parse(paceLine.slice('SLUICE_BENCH_PACE '.length)) as Pace) : undefined;
    const note =
      e.killed !== undefined
        ? `killed (${e.killed})`
        : e.code !== 0 || summary === undefined
          ? lastError(e.stderr, `exit ${e.code ?? e.signal}`)
          : undefined;
    return {
      code: e.code,
      ...(summary !== undefined ? { summary } : {}),
      ...(pace !== undefined ? { pace } : {}),
      ...(firstMs !== undefined ? { firstMs } : {}),
      exitMs,
      ...(note !== undefined ? { note } : {}),
    };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function lastJson<T>(stderr: string, prefix: string): T | undefined {
  const line = stderr.split('\n').findLast((l) => l.startsWith(prefix));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}

/** What an output file holds: its lines, the distinct task indexes among them, and lines with none or out of range. */
export interface OutputCount {
  readonly lines: number;
  readonly distinct: number;
  /** Lines without an `index` in [0, expected), or not ending in a newline. */
  readonly malformed: number;
  readonly bytes: number;
}

/** Reads an output file of the no-op or paced job (none: all zero): every line should carry one index in [0, expected), each once. */
export function countOutput(path: string, expected: number): OutputCount {
  if (!existsSync(path)) return { lines: 0, distinct: 0, malformed: 0, bytes: 0 };
  const text = readFileSync(path, 'latin1');
  const seen = new Uint8Array(expected);
  let lines = 0;
  let distinct = 0;
  let malformed = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) {
      malformed++;
      end = text.length;
    }
    lines++;
    const at = text.indexOf('"index":', start);
    const index = at >= 0 && at < end ? Number.parseInt(text.slice(at + 8, at + 20), 10) : Number.NaN;
    if (Number.isInteger(index) && index >= 0 && index < expected) {
      if (seen[index] === 0) distinct++;
      seen[index] = 1;
    } else malformed++;
    start = end + 1;
  }
  return { lines, distinct, malformed, bytes: text.length };
}
