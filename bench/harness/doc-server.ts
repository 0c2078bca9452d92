/**
 * The doc servers of the pipeline scenario, in their own process (bench/harness/doc-server-child.ts:
 * one process per payload size, one port per latency), kept for the whole scenario and asked for
 * their counters around each run.
 */
import { fileURLToPath } from 'node:url';
import { startChild } from './child.js';

const DOC_SERVER = fileURLToPath(new URL('./doc-server-child.ts', import.meta.url));

export interface ServerCounters {
  readonly requests: number;
  readonly cpuMs: number;
}

export interface DocServerProcess {
  /** One URL per latency asked for, in order. */
  readonly urls: readonly string[];
  /** Summed over the process's servers; CPU since it was ready. */
  counters(): Promise<ServerCounters>;
  stop(): Promise<void>;
}

/**
 * One server process answering `sizeBytes` documents on one port per latency, `variety` distinct
 * ones (generated at start: fewer start faster).
 */
export async function startDocServers(latenciesMs: readonly number[], sizeBytes: number, variety = 32): Promise<DocServerProcess> {
  const child = startChild({
    args: ['--import', 'tsx', DOC_SERVER, '--latency', latenciesMs.join(','), '--size', String(sizeBytes), '--variety', String(variety)],
    stderr: 'inherit',
  });
  const urls: string[] = [];
  try {
    for (const _ of latenciesMs) urls.push((await child.next('URL')).trim());
  } catch (error) {
    await child.stop();
    throw new Error(`doc server exited before printing its URL: ${(error as Error).message}`);
  }
  return {
    urls,
    async counters() {
      child.send('counters');
      return JSON.parse(await child.next('COUNTERS')) as ServerCounters;
    },
    async stop() {
      await child.stop(5000);
    },
  };
}
