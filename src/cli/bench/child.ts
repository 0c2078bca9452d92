/**
 * One tuning run: `sluice run` in a fresh child process (so peak RSS and warm-up are its own),
 * with the setting's flags, outcomes to the null device and a JSON summary on stderr, which this
 * reads back.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { devNull } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface ChildSummary {
  readonly exitCode: number;
  readonly elapsedMs: number;
  readonly tasks: number;
  readonly completed: number;
  readonly failed: number;
  readonly rejectedRecords: number;
  readonly tasksPerSecond: number;
  readonly peakBuffered: number;
  readonly peakRssBytes: number;
}

/** The `sluice` executable next to this file: built (`bin.js`), or the source run through tsx. */
function binCommand(): string[] {
  const built = new URL('../bin.js', import.meta.url);
  if (existsSync(built)) return [fileURLToPath(built)];
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return ['--import', tsx, fileURLToPath(new URL('../bin.ts', import.meta.url))];
}

export function runChild(args: readonly string[], options: { cwd: string; env: Readonly<Record<string, string | undefined>> }): Promise<ChildSummary> {
  const argv = [...binCommand(), 'run', ...args, '--output', devNull, '--log', 'json', '--log-interval', '3600000'];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      argv,
      { cwd: options.cwd, env: { ...options.env } as NodeJS.ProcessEnv, maxBuffer: 64 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        const summary = lastSummary(stderr);
        if (summary === undefined) {
          reject(new Error(`sluice run ${args.join(' ')} exited ${exitCode} without a summary:\n${stderr.trim().split('\n').slice(-5).join('\n')}`));
          return;
        }
        resolve({ ...summary, exitCode });
      },
    );
  });
}

function lastSummary(stderr: string): Omit<ChildSummary, 'exitCode'> | undefined {
  const lines = stderr.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed.type !== 'summary') continue;
      return {
        elapsedMs: num(parsed.elapsedMs),
        tasks: num(parsed.tasks),
        completed: num(parsed.completed),
        failed: num(parsed.failed),
        rejectedRecords: num(parsed.rejectedRecords),
        tasksPerSecond: num(parsed.tasksPerSecond),
        peakBuffered: num(parsed.peakBuffered),
        peakRssBytes: num(parsed.peakRssBytes),
      };
    } catch {
      // a progress line cut short; keep looking
    }
  }
  return undefined;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
