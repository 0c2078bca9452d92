/**
 * The journal across processes (test/fixtures/journal/child.mjs on the built package): the OS-held
 * lock refuses a second process at once and names the first, kill -9 of the holder frees it at
 * once, a probe in the holder's own process keeps its lock, kill -9 in the middle of a stream of
 * commits leaves exactly the last commit, and a key in flight at 3 crashes is dead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../src/errors.js';
import { openJournal } from '../src/journal/journal.js';
import { readJournalStatus } from '../src/journal/status.js';

const script = fileURLToPath(new URL('./fixtures/journal/child.mjs', import.meta.url));
const fingerprint = { job: { name: 'journal-child', module: '/fixtures/journal/child.mjs', configHash: 'c0' } };

interface Event {
  readonly pid: number;
  readonly event: string;
  readonly [field: string]: unknown;
}

interface Child {
  readonly process: ChildProcess;
  readonly events: Event[];
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-journal-process-'));
  dir = join(root, 'out.jsonl.sluice');
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

function start(...args: string[]): Child {
  const child = spawn(process.execPath, ['--expose-gc', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const events: Event[] = [];
  let pending = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      events.push(JSON.parse(pending.slice(0, nl)) as Event);
      pending = pending.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, events, stderr: () => err, exited };
}

/** Polls until the child printed an event that matches; fails if it exits first (the limit only stops a hung test). */
async function until(child: Child, match: (e: Event) => boolean): Promise<Event> {
  for (let i = 0; i < 3000; i += 1) {
    const found = child.events.find(match);
    if (found !== undefined) return found;
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      await child.exited;
      const late = child.events.find(match);
      if (late !== undefined) return late;
      throw new Error(`the child exited first:\n${child.stderr()}`);
    }
    await sleep(10);
  }
  throw new Error(`timed out:\n${child.stderr()}`);
}

async function kill9(child: Child): Promise<void> {
  child.process.kill('SIGKILL');
  const { signal } = await child.exited;
  expect(signal).toBe('SIGKILL');
}

/** Runs `child.mjs try DIR` to its end: its one event. */
async function tryOpen(): Promise<Event> {
  const child = start('try', dir);
  const { code } = await child.exited;
  expect(code, child.stderr()).toBe(0);
  expect(child.events).toHaveLength(1);
  return child.events[0]!;
}

describe('the journal lock, across processes', () => {
  it('refuses a second process at once, naming the first; after kill -9 of the first, a new process takes it at once', async () => {
    const first = start('hold', dir);
    const held = await until(first, (e) => e.event === 'held');
    expect(held.pid).toBe(first.process.pid);

    const refused = await tryOpen();
    expect(refused.event).toBe('refused');
    expect(refused.code).toBe(ErrorCodes.JOURNAL_LOCKED);
    expect(refused.holder).toMatchObject({ pid: first.process.pid, epoch: held.epoch });
    expect(refused.message).toContain(`pid ${first.process.pid}`);
    // Read-only, without the lock: the status names the holder too.
    expect(readJournalStatus(dir)?.holder?.pid).toBe(first.process.pid);

    await kill9(first);
    expect(readJournalStatus(dir)?.holder).toBeUndefined();
    const taken = await tryOpen();
    expect(taken.event).toBe('opened');
    expect(taken.epoch).toBe((held.epoch as number) + 1);
  });

  it("keeps the holder's lock when its own process probes it (a status read, a second open there)", async () => {
    const first = start('hold-probe', dir);
    const probed = await until(first, (e) => e.event === 'probed');
    expect(probed.holderPid).toBe(first.process.pid);
    expect(probed.second).toBe(ErrorCodes.JOURNAL_LOCKED);
    // The probe's connections closed in the holder's process; the lock must still hold against others.
    const refused = await tryOpen();
    expect(refused.code).toBe(ErrorCodes.JOURNAL_LOCKED);
    expect(refused.holder).toMatchObject({ pid: first.process.pid });
    await kill9(first);
  });

  it('keeps the lock of a journal its opener dropped, through garbage collections', async () => {
    const first = start('hold-dropped', dir);
    await until(first, (e) => e.event === 'held');
    const refused = await tryOpen();
    expect(refused.code).toBe(ErrorCodes.JOURNAL_LOCKED);
    expect(refused.holder).toMatchObject({ pid: first.process.pid });
    await kill9(first);
  });

  it('refuses this process while a child holds it, and lets it in once the child is killed', async () => {
    const first = start('hold', dir);
    await until(first, (e) => e.event === 'held');
    let caught: unknown;
    try {
      openJournal(dir, { fingerprint, mode: 'resume' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: ErrorCodes.JOURNAL_LOCKED, holder: { pid: first.process.pid } });
    await kill9(first);
    const journal = openJournal(dir, { fingerprint, mode: 'resume' });
    expect(journal.status().holder?.pid).toBe(process.pid);
    journal.close();
  });
});

describe('kill -9 and the journal', () => {
  it('in the middle of a stream of commits: the journal opens with exactly the last commit (no partial batch)', async () => {
    const stream = start('stream', dir);
    await until(stream, (e) => e.event === 'committed' && (e.i as number) >= 50);
    await kill9(stream);

    const journal = openJournal(dir, { fingerprint, mode: 'resume' });
    try {
      const committed = journal.outputLength / 1000; // batch i commits length 1000(i+1)
      expect(Number.isInteger(committed)).toBe(true);
      expect(committed).toBeGreaterThan(50);
      const tasks = committed * 100;
      const status = journal.status();
      expect(status.done + status.failed).toBe(tasks);
      expect(status.failed).toBe(Math.ceil(tasks / 7));
      expect(status.watermark).toBe(tasks);
      expect(journal.isSettled(tasks - 1, `k${tasks - 1}`)).toBe(true);
      expect(journal.isSettled(tasks, `k${tasks}`)).toBe(false);
      // The stream's in-flight keys at its last commit were counted as one crash each, not yet dead.
      expect(journal.deadAtOpen).toEqual([]);
      expect(status.dead).toBe(0);
    } finally {
      journal.close();
    }
  });

  it('marks a key dead when it was in flight at 3 crashes', async () => {
    for (let crash = 1; crash <= 3; crash += 1) {
      const child = start('crash', dir, 'poison');
      const committed = await until(child, (e) => e.event === 'committed');
      expect(committed.deadAtOpen).toEqual([]);
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');
    }
    const journal = openJournal(dir, { fingerprint, mode: 'resume' });
    try {
      expect(journal.deadAtOpen).toEqual([expect.objectContaining({ key: 'poison', state: 'dead', attempts: 3 })]);
      expect(journal.isSettled(1000, 'poison')).toBe(true);
      expect(journal.isSettled(1001, 'other-2')).toBe(false); // in flight at one crash only
      // Marked dead by key (in-flight tasks are recorded by key): its position is learnt when a run meets it.
      expect([...journal.dead()]).toEqual([expect.objectContaining({ key: 'poison', position: -1 })]);
      expect(journal.status()).toMatchObject({ done: 3, failed: 0, dead: 1 });
    } finally {
      journal.close();
    }
    // The position learnt by isSettled was stored, and a clean close counted no crash.
    const again = openJournal(dir, { fingerprint, mode: 'resume' });
    expect(again.deadAtOpen).toEqual([]);
    expect([...again.dead()].map((r) => [r.key, r.position])).toEqual([['poison', 1000]]);
    again.close();
  });
});
