// The guard over collected deletes (DESIGN.md rule 4) as one pure verdict over a summary (counts,
// completeness, tracked, options), and the two ways to build the summary: in memory from the gone
// rows (the planner's modes) and by SQL from the ledger's temp tables (the reconciliation's pass).
// Both must give the same summary on the same rows, so the rule is defined once.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import {
  deleteVerdict,
  summarizeGone,
  type DeleteSummary,
  type DeleteVerdict,
  type GoneRow,
  type GuardFacts,
} from '../../src/sync/decide.js';
import { AddedContents, pairMoves } from '../../src/sync/moves.js';
import { ORPHAN_SKEW_MS } from '../../src/sync/orphans.js';
import type { PlanOptions } from '../../src/sync/types.js';
import { tempDir } from '../helpers/sync.js';

const OPTIONS: PlanOptions = {
  deleteMode: 'mirror',
  maxDeleteCount: 100,
  maxDeleteShare: 0.5,
  allowMassDelete: false,
  maxFileBytes: 1000,
  remoteName: (p) => p,
  rootDistrust: null,
  now: 0,
  orphanSkewMs: ORPHAN_SKEW_MS,
};

interface VerdictCase {
  name: string;
  summary: Partial<DeleteSummary>;
  facts?: Partial<Omit<GuardFacts, 'options'>>;
  options?: Partial<PlanOptions>;
  verdict: DeleteVerdict;
}

const verdictCases: VerdictCase[] = [
  { name: 'nothing gone: nothing to judge', summary: {}, verdict: { kind: 'allow', deletes: 0, forgets: 0 } },
  { name: 'a few deletes are allowed', summary: { deletable: 3 }, verdict: { kind: 'allow', deletes: 3, forgets: 0 } },
  {
    name: 'a partial walk blocks everything, forgets too',
    summary: { deletable: 3, forgets: 2 },
    facts: { localComplete: false },
    verdict: { kind: 'blocked', reason: 'some folders could not be read' },
  },
  {
    name: 'an incomplete listing blocks',
    summary: { deletable: 1 },
    facts: { remoteComplete: false },
    verdict: { kind: 'blocked', reason: 'the remote listing was incomplete' },
  },
  {
    name: 'a distrusted root blocks',
    summary: { deletable: 1 },
    options: { rootDistrust: 'the root marker is missing' },
    verdict: { kind: 'blocked', reason: 'the root marker is missing' },
  },
  {
    name: 'an empty root blocks, even with forgets only',
    summary: { forgets: 1 },
    facts: { localEmpty: true },
    verdict: { kind: 'blocked', reason: 'the root is empty while the ledger is not' },
  },
  {
    name: 'deletes.mode keep: forgets only, never held',
    summary: { deletable: 5000, forgets: 4 },
    options: { deleteMode: 'keep' },
    verdict: { kind: 'allow', deletes: 0, forgets: 4 },
  },
  {
    name: 'over maxCount is held; forgets still go',
    summary: { deletable: 101, forgets: 1 },
    facts: { tracked: 10_000 },
    verdict: {
      kind: 'held',
      count: 101,
      forgets: 1,
      reason: '101 files deleted locally, more than deletes.maxCount (100): run with --allow-mass-delete to delete them remotely',
    },
  },
  {
    name: 'moves do not count: 150 deleted, 60 of them moved, is 90',
    summary: { deletable: 150, moved: 60 },
    facts: { tracked: 10_000 },
    verdict: { kind: 'allow', deletes: 150, forgets: 0 },
  },
  {
    name: 'over maxShare of the tracked rows is held',
    summary: { deletable: 6 },
    facts: { tracked: 10 },
    verdict: {
      kind: 'held',
      count: 6,
      forgets: 0,
      reason:
        '6 files deleted locally, more than deletes.maxShare (50%) of 10 tracked files: run with --allow-mass-delete to delete them remotely',
    },
  },
  {
    name: 'the share is not judged under 10 tracked rows',
    summary: { deletable: 9 },
    facts: { tracked: 9 },
    verdict: { kind: 'allow', deletes: 9, forgets: 0 },
  },
  {
    name: '--allow-mass-delete lets a held delete go',
    summary: { deletable: 300_000 },
    facts: { tracked: 300_001 },
    options: { allowMassDelete: true },
    verdict: { kind: 'allow', deletes: 300_000, forgets: 0 },
  },
];

describe('deleteVerdict (pure)', () => {
  for (const c of verdictCases) {
    it(c.name, () => {
      const summary: DeleteSummary = { deletable: 0, forgets: 0, moved: 0, ...c.summary };
      const facts: GuardFacts = {
        localComplete: true,
        remoteComplete: true,
        localEmpty: false,
        tracked: 1000,
        ...c.facts,
        options: { ...OPTIONS, ...c.options },
      };
      expect(deleteVerdict(summary, facts)).toEqual(c.verdict);
    });
  }
});

const sha = (s: string) => s.padEnd(64, '0');
const gone = (p: string, content: string, listed: boolean | null = true): GoneRow => ({
  path: p,
  fileId: `file_${p}`,
  sha256: sha(content),
  listed,
});

/** Gone rows in path order (as the merge collects them) and the contents added at new paths. */
const rows: GoneRow[] = [
  gone('a/1', 'x'),
  gone('a/2', 'x'),
  gone('a/3', 'x'), // 3 gone + 1 added of x: one move
  gone('b/1', 'y', null), // trusted ledger: deletable
  gone('b/2', 'y'), // 2 gone + 5 added of y: two moves
  gone('c/1', 'z', false), // someone else deleted the copy: a forget, never a move
  gone('d/1', 'w'), // w added only by the forgotten row's content: no
  gone('é', 'v'),
  gone('\u{1F600}', 'v'),
];
const added = [sha('x'), sha('y'), sha('y'), sha('y'), sha('y'), sha('y'), sha('z'), sha('q')];

describe('the summary, in memory and by SQL', () => {
  let dir: string;
  let ledger: Ledger;
  beforeEach(() => {
    dir = tempDir('fs-summary-');
    ledger = Ledger.open(path.join(dir, 'ledger.db'));
  });
  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts duplicates one to one: 3 gone + 1 added of one content is 1 move', () => {
    const inMemory = summarizeGone(rows, new AddedContents(added.map((s) => ({ path: 'n', sha256: s }))));
    expect(inMemory).toEqual({ deletable: 8, forgets: 1, moved: 3 });
    // The same count as the move rule's own pairing (pairMoves) over the deletable rows.
    const deletable = rows.filter((r) => r.listed !== false).map((r) => ({ path: r.path, sha256: r.sha256 }));
    expect(pairMoves(deletable, new AddedContents(added.map((s) => ({ path: 'n', sha256: s })))).size).toBe(inMemory.moved);
  });

  it('the SQL summary over the temp tables equals the in-memory one on the same rows', () => {
    ledger.clearCollected();
    ledger.collectGone(rows);
    ledger.collectAdded(added);
    const inMemory = summarizeGone(rows, new AddedContents(added.map((s) => ({ path: 'n', sha256: s }))));
    expect(ledger.collectedSummary()).toEqual(inMemory);
    // The held report's sample and the executor's pages read the deletable rows in path order.
    expect(ledger.collectedSample(3)).toEqual(['a/1', 'a/2', 'a/3']);
    const first = ledger.collectedDeletesAfter(null, 5);
    expect(first.map((r) => r.path)).toEqual(['a/1', 'a/2', 'a/3', 'b/1', 'b/2']);
    expect(ledger.collectedDeletesAfter('b/2', 5)).toEqual([
      { path: 'd/1', fileId: 'file_d/1' },
      { path: 'é', fileId: 'file_é' },
      { path: '\u{1F600}', fileId: 'file_\u{1F600}' },
    ]);
  });

  it('clearing starts a new pass: nothing of the last one is counted', () => {
    ledger.collectGone(rows);
    ledger.collectAdded(added);
    ledger.clearCollected();
    expect(ledger.collectedSummary()).toEqual({ deletable: 0, forgets: 0, moved: 0 });
    ledger.collectGone([gone('k', 'x')]);
    expect(ledger.collectedSummary()).toEqual({ deletable: 1, forgets: 0, moved: 0 });
  });

  it('a move whose new copy was not stored keeps its old one, one to one; the next pass starts afresh', () => {
    ledger.collectGone(rows);
    ledger.collectAdded(added);
    // x's one new path failed: one of its three gone rows waits (the last, a/3). y: 2 gone paired
    // with 5 added, of which 1 was stored: 1 waits (b/2). z's row is a forget; w and v were not moved.
    ledger.collectStored([sha('y'), sha('q')]);
    expect(ledger.holdWaitingMoves()).toBe(2);
    const paths = (after: string | null, limit: number) => ledger.collectedDeletesAfter(after, limit).map((r) => r.path);
    expect(paths(null, 10)).toEqual(['a/1', 'a/2', 'b/1', 'd/1', 'é', '\u{1F600}']);
    expect(paths('b/1', 2)).toEqual(['d/1', 'é']);
    // The guard's counts do not change: a waiting row was a move, and is not deleted either.
    expect(ledger.collectedSummary()).toEqual({ deletable: 8, forgets: 1, moved: 3 });

    ledger.clearCollected();
    ledger.collectGone([gone('k', 'x'), gone('m', 'u')]);
    ledger.collectAdded([sha('u')]);
    expect(paths(null, 10)).toEqual(['k', 'm']); // nothing of the last pass waits
    ledger.collectStored([sha('u')]);
    expect(ledger.holdWaitingMoves()).toBe(0); // every new path stored: every move goes
    expect(paths(null, 10)).toEqual(['k', 'm']);
  });

  it('works on a ledger opened read-only (status runs the pass so)', () => {
    ledger.close();
    ledger = Ledger.open(path.join(dir, 'ledger.db'), { readOnly: true });
    ledger.clearCollected();
    ledger.collectGone(rows);
    ledger.collectAdded(added);
    expect(ledger.collectedSummary()).toEqual({ deletable: 8, forgets: 1, moved: 3 });
  });
});
