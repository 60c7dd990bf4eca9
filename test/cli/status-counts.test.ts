// `status` counts what `sync --dry-run` would do: for each change to a synced folder, the "N to
// upload, M to delete" of status equals the dry run's planned uploads and deletes, and status
// writes nothing to the ledger (a touched file's new stat is left for the sync to record).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { emulator, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

interface Case {
  name: string;
  /** Extra config keys for the setup. */
  config?: Record<string, unknown>;
  /** What the folder is changed with after the first sync. */
  change: (s: SyncSetup) => void;
  toUpload: number;
  toDelete: number;
  /** The first sync's exit code (1 when a file fails). */
  firstExit?: number;
}

const past = (s: SyncSetup, rel: string, secondsAgo = 60) => {
  const t = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(path.join(s.root, rel), t, t);
};

const ledgerOf = (s: SyncSetup) => Ledger.open(path.join(s.stateDir, 'ledger.db'));

const cases: Case[] = [
  { name: 'nothing changed', change: () => {}, toUpload: 0, toDelete: 0 },
  { name: 'a new file', change: (s) => writeTree(s.root, { 'new.txt': 'new content' }), toUpload: 1, toDelete: 0 },
  { name: 'a new file in a new folder', change: (s) => writeTree(s.root, { 'z/y/x.txt': 'deep' }), toUpload: 1, toDelete: 0 },
  {
    name: 'a changed file',
    change: (s) => writeTree(s.root, { 'a.txt': 'alpha, changed and longer' }),
    toUpload: 1,
    toDelete: 0,
  },
  { name: 'a touched file (same content)', change: (s) => past(s, 'a.txt', 30), toUpload: 0, toDelete: 0 },
  { name: 'a deleted file', change: (s) => fs.rmSync(path.join(s.root, 'docs/b.md')), toUpload: 0, toDelete: 1 },
  {
    name: 'a moved file',
    change: (s) => fs.renameSync(path.join(s.root, 'docs/b.md'), path.join(s.root, 'b-moved.md')),
    toUpload: 1,
    toDelete: 1,
  },
  {
    name: 'a new ignored file',
    config: { exclude: ['*.log'] },
    change: (s) => writeTree(s.root, { 'debug.log': 'ignored', 'docs/trace.log': 'ignored too' }),
    toUpload: 0,
    toDelete: 0,
  },
  {
    name: 'a recorded non-retryable failure (too large)',
    config: { maxFileBytes: 64 },
    change: () => {},
    toUpload: 0,
    toDelete: 0,
    firstExit: 1,
  },
  {
    name: 'a recorded non-retryable failure, the file changed and still too large',
    config: { maxFileBytes: 64 },
    change: (s) => writeTree(s.root, { 'big.bin': 'y'.repeat(300) }),
    toUpload: 0,
    toDelete: 0,
    firstExit: 1,
  },
  {
    name: 'a pending delete (recorded, not yet done)',
    change: (s) => {
      fs.rmSync(path.join(s.root, 'c.csv'));
      const ledger = ledgerOf(s);
      try {
        expect(ledger.markDeleted('c.csv', Date.now())).not.toBeNull();
      } finally {
        ledger.close();
      }
    },
    toUpload: 0,
    toDelete: 1,
  },
  {
    name: 'a pending delete and a deleted file',
    change: (s) => {
      fs.rmSync(path.join(s.root, 'c.csv'));
      fs.rmSync(path.join(s.root, 'a.txt'));
      const ledger = ledgerOf(s);
      try {
        ledger.markDeleted('c.csv', Date.now());
      } finally {
        ledger.close();
      }
    },
    toUpload: 0,
    toDelete: 2,
  },
  {
    name: 'mass delete held by the guard (nothing counted)',
    config: { deletes: { maxCount: 1 } },
    change: (s) => {
      fs.rmSync(path.join(s.root, 'a.txt'));
      fs.rmSync(path.join(s.root, 'docs'), { recursive: true });
    },
    toUpload: 0,
    toDelete: 0,
  },
];

describe('status counts what sync --dry-run would do', () => {
  let emu: Emulator;
  let setup: SyncSetup | undefined;
  beforeAll(async () => {
    emu = await emulator();
  });
  afterEach(() => setup?.cleanup());
  afterAll(async () => emu.close());

  it.each(cases)('$name', async (c) => {
    setup = syncSetup(emu, c.config ?? {});
    const s = setup;
    const tag = c.name.replaceAll(' ', '-');
    writeTree(s.root, { 'a.txt': `alpha ${tag}`, 'docs/b.md': `# bee ${tag}`, 'c.csv': `1,2,${tag}\n` });
    if (c.config?.maxFileBytes !== undefined) writeTree(s.root, { 'big.bin': 'x'.repeat(200) });
    for (const f of ['a.txt', 'docs/b.md', 'c.csv']) past(s, f);
    const first = await s.sync();
    expect(first.code, first.stderr + first.stdout).toBe(c.firstExit ?? 0);
    c.change(s);

    const before = ledgerSnapshot(s);
    const status = await runCli(['status', '--config', s.configFile, '--json'], s.env);
    expect(status.code, status.stderr).toBe(0);
    const counts = JSON.parse(status.stdout) as { toUpload: number; toDelete: number };
    const dry = await s.sync(['--dry-run', '--json']);
    const planned = (JSON.parse(dry.stdout) as { planned: { uploads: unknown[]; deletes: unknown[] } }).planned;

    expect({ toUpload: counts.toUpload, toDelete: counts.toDelete }).toEqual({ toUpload: c.toUpload, toDelete: c.toDelete });
    expect({ toUpload: planned.uploads.length, toDelete: planned.deletes.length }).toEqual({
      toUpload: counts.toUpload,
      toDelete: counts.toDelete,
    });
    // Neither wrote: the rows (stats included), failures and pending deletes are as they were.
    expect(ledgerSnapshot(s)).toEqual(before);
  });
});

/** The ledger's rows, failures and pending deletes, read through its API. */
function ledgerSnapshot(s: SyncSetup): unknown {
  const ledger = Ledger.open(path.join(s.stateDir, 'ledger.db'), { readOnly: true });
  try {
    return { files: ledger.files(), failures: ledger.failures(), pending: ledger.pendingDeletes() };
  } finally {
    ledger.close();
  }
}
