// One vocabulary of counts: each case's counts are the same in the dry run (--json), the human
// line of the sync, and status (human and --json).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { countsLine } from '../../src/sync/report.js';
import type { Counts } from '../../src/sync/reconcile.js';
import { emulator, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

const zero: Counts = {
  new: 0,
  changed: 0,
  removed: 0,
  unchanged: 0,
  failed: 0,
  skipped: 0,
  oldCopiesDeleted: 0,
  orphansCleaned: 0,
  deletesFailed: 0,
};

interface Case {
  name: string;
  before?: Record<string, string>;
  change: (root: string, tag: string) => void;
  counts: Partial<Counts>;
  /** Lines the human summary must hold. */
  lines?: RegExp[];
}

const CASES: Case[] = [
  {
    name: 'a first sync',
    change: (r, t) => writeTree(r, { 'a.txt': `a ${t}`, 'b/c.md': `c ${t}` }),
    counts: { new: 2 },
  },
  {
    name: 'one edit and two removals',
    before: { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'd.txt': 'd' },
    change: (r) => {
      fs.appendFileSync(path.join(r, 'a.txt'), ' edited');
      fs.rmSync(path.join(r, 'b.txt'));
      fs.rmSync(path.join(r, 'c.txt'));
    },
    counts: { changed: 1, removed: 2, unchanged: 1, oldCopiesDeleted: 1 },
  },
  {
    name: 'a symlink and a FIFO are skipped, and shown',
    before: { 'a.txt': 'a' },
    change: (r) => {
      fs.symlinkSync('/etc/hostname', path.join(r, 'link'));
      execFileSync('mkfifo', [path.join(r, 'pipe')]);
    },
    counts: { unchanged: 1, skipped: 2 },
    lines: [/^skipped: link: /m, /^skipped: pipe: /m],
  },
  { name: 'nothing to do', before: { 'x.txt': 'x', 'y.txt': 'y' }, change: () => {}, counts: { unchanged: 2 } },
];

describe('the count vocabulary', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await emulator();
  });
  afterAll(async () => emu.close());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const setup: SyncSetup = syncSetup(emu);
      const tag = `case-${i}-${'#'.repeat(i)}`;
      try {
        if (c.before) {
          // Contents carry the case's tag, so no case's files are another's lookalikes.
          writeTree(setup.root, Object.fromEntries(Object.entries(c.before).map(([p, v]) => [p, `${v} ${tag}`])));
          expect((await setup.sync()).code).toBe(0);
        }
        c.change(setup.root, tag);
        const want = { ...zero, ...c.counts };
        const dry = await setup.sync(['--dry-run', '--json']);
        expect((JSON.parse(dry.stdout) as { counts: Counts }).counts, 'dry run').toEqual(want);
        const run = await setup.sync();
        expect(run.stdout.split('\n')[0], 'human line').toBe(countsLine(want));
        for (const re of c.lines ?? []) expect(run.stdout).toMatch(re);
        const status = await runCli(['status', '--config', setup.configFile], setup.env);
        expect(status.stdout).toContain(`: ${countsLine(want)}`);
        const json = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
        expect((JSON.parse(json.stdout) as { lastReconciliation: { counts: Counts } }).lastReconciliation.counts, 'status --json').toEqual(
          want,
        );
      } finally {
        setup.cleanup();
      }
    });
  });
});
