/**
 * The worker of the bridge bench: makes `input` calls home, one after the other, to an exposed
 * function that does nothing, then answers its input. With `input` 0 it never calls `host()`.
 */
import type { WorkerContext } from 'sluice';

export interface BenchApi {
  noop(): void;
}

export default async function calls(input: number, ctx: WorkerContext): Promise<number> {
  if (input === 0) return input;
  const host = ctx.host<BenchApi>();
  for (let i = 0; i < input; i++) await host.noop();
  return input;
}
