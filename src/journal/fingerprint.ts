/**
 * Fingerprints: what a journal is about (the input file, the job), so that a resume against
 * another input or job is refused with what changed.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Fingerprint, FingerprintChange } from './types.js';

/** How much of the input's head is hashed: enough to tell files apart cheaply, at any size. */
const HEAD_BYTES = 64 * 1024;

/**
 * The fingerprint of an input file: its absolute path, size, mtime (ms) and the SHA-256 of its
 * first 64 KiB (`sha256:<hex>`). Reads at most 64 KiB, so it costs the same for any size.
 */
export async function fingerprintInput(path: string): Promise<NonNullable<Fingerprint['input']>> {
  const absolute = resolve(path);
  const handle = await open(absolute, 'r');
  try {
    const stat = await handle.stat();
    const head = Buffer.alloc(Math.min(HEAD_BYTES, stat.size));
    let filled = 0;
    while (filled < head.length) {
      const { bytesRead } = await handle.read(head, filled, head.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const headHash = `sha256:${createHash('sha256').update(head.subarray(0, filled)).digest('hex')}`;
    return { path: absolute, size: stat.size, mtimeMs: stat.mtimeMs, headHash };
  } finally {
    await handle.close();
  }
}

/** The differences between a stored fingerprint and a given one, field by field; empty when they agree. */
export function compareFingerprints(was: Fingerprint, now: Fingerprint): FingerprintChange[] {
  const changes: FingerprintChange[] = [];
  const a = was.input;
  const b = now.input;
  if (a === undefined || b === undefined) {
    if (a !== b) changes.push({ field: 'input', was: a?.path, now: b?.path });
  } else {
    for (const field of ['path', 'size', 'mtimeMs', 'headHash'] as const) {
      if (a[field] !== b[field]) changes.push({ field: `input.${field}`, was: a[field], now: b[field] });
    }
  }
  for (const field of ['name', 'module', 'configHash'] as const) {
    if (was.job[field] !== now.job[field]) changes.push({ field: `job.${field}`, was: was.job[field], now: now.job[field] });
  }
  return changes;
}

const FIELD_NAMES: Readonly<Record<string, string>> = {
  input: 'the input',
  'input.path': "the input's path",
  'input.size': "the input's size (bytes)",
  'input.mtimeMs': "the input's modification time",
  'input.headHash': "the input's first 64 KiB",
  'job.name': "the job's name",
  'job.module': "the job's module",
  'job.configHash': "the job's config",
};

/** `the input's size (bytes): 120 -> 96; the job's config: sha256:ab12… -> sha256:cd34…` */
export function describeChanges(changes: readonly FingerprintChange[]): string {
  return changes.map((c) => `${FIELD_NAMES[c.field] ?? c.field}: ${shown(c.field, c.was)} -> ${shown(c.field, c.now)}`).join('; ');
}

function shown(field: string, value: string | number | undefined): string {
  if (value === undefined) return field === 'input' ? "the job's own input" : '(none)';
  if (field === 'input.mtimeMs' && typeof value === 'number') return new Date(value).toISOString();
  if (typeof value === 'string' && value.length > 24 && field !== 'input.path' && field !== 'input') return `${value.slice(0, 19)}…`;
  return String(value);
}

/** Checks a fingerprint's shape (it is stored as JSON and compared field by field). */
export function isFingerprint(value: unknown): value is Fingerprint {
  if (typeof value !== 'object' || value === null) return false;
  const { input, job } = value as { input?: unknown; job?: unknown };
  if (typeof job !== 'object' || job === null) return false;
  const j = job as Record<string, unknown>;
  if (typeof j.name !== 'string' || typeof j.module !== 'string' || typeof j.configHash !== 'string') return false;
  if (input === undefined) return true;
  if (typeof input !== 'object' || input === null) return false;
  const i = input as Record<string, unknown>;
  return typeof i.path === 'string' && typeof i.size === 'number' && typeof i.mtimeMs === 'number' && typeof i.headHash === 'string';
}

/** The fingerprint as stored: only its own fields, in a fixed order (no stray properties, no secrets). */
export function storedFingerprint(fingerprint: Fingerprint): string {
  const { input, job } = fingerprint;
  return JSON.stringify({
    ...(input === undefined ? {} : { input: { path: input.path, size: input.size, mtimeMs: input.mtimeMs, headHash: input.headHash } }),
    job: { name: job.name, module: job.module, configHash: job.configHash },
  });
}
