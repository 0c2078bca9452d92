/**
 * Journals a test opens in a temporary folder (one per test, removed after it, with every journal
 * the test left open closed first): open one in a mode, close it, or end it as kill -9 would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach } from 'vitest';
import { openJournal } from '../../src/journal/journal.js';
import type { Fingerprint, Journal, OpenJournalOptions } from '../../src/journal/types.js';

export interface Journals {
  /** The test's temporary folder. */
  readonly root: string;
  /** The journal folder: `ROOT/out.jsonl.sluice`. */
  readonly dir: string;
  /** Opens the journal in `mode` (with the harness's fingerprint and defaults, then `options`); closed after the test. */
  journalOf(mode: OpenJournalOptions['mode'], options?: Partial<OpenJournalOptions>): Journal;
  close(journal: Journal): void;
  /** Ends `journal` as kill -9 would: its lock goes (the kernel drops it), its file stays as it is (not ended, the keys in flight kept). */
  crash(journal: Journal): void;
}

/** Registers the hooks that make and remove each test's folder; call at the top of a test file. */
export function useJournals(prefix: string, fingerprint: Fingerprint, defaults: Partial<OpenJournalOptions> = {}): Journals {
  let root = '';
  const open: Journal[] = [];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const j of open.splice(0)) j.close();
    await rm(root, { recursive: true, force: true });
  });
  const journals: Journals = {
    get root() {
      return root;
    },
    get dir() {
      return join(root, 'out.jsonl.sluice');
    },
    journalOf(mode, options = {}) {
      const j = openJournal(journals.dir, { fingerprint, mode, ...defaults, ...options });
      open.push(j);
      return j;
    },
    close(journal) {
      journal.close();
      open.splice(open.indexOf(journal), 1);
    },
    crash(journal) {
      const db = new Database(join(journals.dir, 'journal.db'));
      try {
        const inFlight = db.prepare('SELECT in_flight FROM state WHERE id = 1').pluck().get() as string;
        journals.close(journal);
        db.prepare('UPDATE runs SET ended_at = NULL WHERE epoch = ?').run(journal.epoch);
        db.prepare('UPDATE state SET in_flight = ? WHERE id = 1').run(inFlight);
      } finally {
        db.close();
      }
    },
  };
  return journals;
}
