/**
 * BullMQ and ioredis, loaded on first use. Together they take about a third of a second to load
 * (more than the rest of sluice), which every `sluice` command, every lane and every program that
 * imports sluice would otherwise pay at start, queue or not.
 */
type BullMQ = typeof import('bullmq');
type IORedis = typeof import('ioredis');

let bullmq: Promise<BullMQ> | undefined;
let ioredis: Promise<IORedis> | undefined;

/** The `bullmq` module, imported once. */
export function loadBullmq(): Promise<BullMQ> {
  bullmq ??= import('bullmq');
  return bullmq;
}

/** The `ioredis` module, imported once. */
export function loadIoredis(): Promise<IORedis> {
  ioredis ??= import('ioredis');
  return ioredis;
}
