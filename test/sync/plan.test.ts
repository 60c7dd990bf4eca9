// Table-driven tests of the planner: one row per rule of DESIGN.md.
import { describe, expect, it } from 'vitest';
import type { Failure, FileRow, InFlightUpload, PendingDelete } from '../../src/ledger/ledger.js';
import type { LocalFile, LocalProblem } from '../../src/local/types.js';
import { UNSEEN_FOLDERS_MAX } from '../../src/local/sorted-walk.js';
import type { FileMetadata } from '../../src/remote/types.js';
import {
  ORPHAN_SKEW_MS,
  pairMoves,
  plan,
  type LedgerView,
  type LocalView,
  type Plan,
  type PlanOptions,
  type RemoteView,
} from '../../src/sync/plan.js';

const NOW = Date.parse('2026-11-01T12:00:00Z');
const name = (p: string) => p.replaceAll('/', '∕');

function local(p: string, sha: string | null, extra: Partial<LocalFile> = {}): LocalFile {
  return { path: p, size: 10, mtimeMs: 1000, ino: 1, sha256: sha, mimeType: 'text/plain', ...extra };
}
function row_(p: string, id: string, sha: string, extra: Partial<FileRow> = {}): FileRow {
  return row(p, id, sha, extra);
}
function row(p: string, id: string, sha: string, extra: Partial<FileRow> = {}): FileRow {
  return {
    path: p,
    fileId: id,
    size: 10,
    mtimeMs: 1000,
    ino: 1,
    sha256: sha,
    mimeType: 'text/plain',
    remoteName: name(p),
    uploadedAt: '2026-10-01T00:00:00.000000Z',
    ...extra,
  };
}
function remoteFile(id: string, filename: string, extra: Partial<FileMetadata> = {}): FileMetadata {
  return {
    id,
    type: 'file',
    filename,
    mime_type: 'text/plain',
    size_bytes: 10,
    created_at: '2026-10-01T00:00:00.000000Z',
    downloadable: false,
    ...extra,
  };
}
function inFlight(id: number, p: string, sha: string, extra: Partial<InFlightUpload> = {}): InFlightUpload {
  return {
    id,
    path: p,
    remoteName: name(p),
    size: 10,
    sha256: sha,
    mimeType: 'text/plain',
    startedAt: NOW - 60_000,
    unknownOutcomes: 1,
    resolvedFileId: null,
    attemptsEndedAt: NOW - 10_000,
    clockOffsetMs: 0,
    ...extra,
  };
}
function pending(id: string, reason: PendingDelete['reason'] = 'replaced'): PendingDelete {
  return { fileId: id, path: 'x', reason, attempts: 0, lastError: null, createdAt: NOW - 1000 };
}
function failure(p: string, extra: Partial<Failure> = {}): Failure {
  return {
    path: p,
    error: 'boom',
    retryable: false,
    attempts: 1,
    nextRetryAt: null,
    size: 10,
    mtimeMs: 1000,
    lastFailedAt: NOW - 1000,
    ...extra,
  };
}

interface Case {
  name: string;
  local?: LocalFile[] | null;
  /** Not listed: the daemon's per-path planning. */
  unlisted?: boolean;
  problems?: LocalProblem[];
  localComplete?: boolean;
  /** The folders an incomplete walk could not list (LocalView.unseen). */
  unseen?: string[];
  ledger?: Partial<LedgerView>;
  remote?: FileMetadata[];
  remoteComplete?: boolean;
  options?: Partial<PlanOptions>;
  expect: (p: Plan) => void;
}

function run(c: Case): Plan {
  const localView: LocalView | null =
    c.local === null
      ? null
      : { files: c.local ?? [], problems: c.problems ?? [], complete: c.localComplete ?? true, ...(c.unseen ? { unseen: c.unseen } : {}) };
  const ledgerView: LedgerView = { files: [], pendingDeletes: [], inFlight: [], failures: [], ...c.ledger };
  const remoteView: RemoteView | null = c.unlisted ? null : { files: c.remote ?? [], complete: c.remoteComplete ?? true };
  const options: PlanOptions = {
    deleteMode: 'mirror',
    maxDeleteCount: 100,
    maxDeleteShare: 0.5,
    allowMassDelete: false,
    maxFileBytes: 1000,
    remoteName: name,
    rootDistrust: null,
    now: NOW,
    orphanSkewMs: ORPHAN_SKEW_MS,
    ...c.options,
  };
  return plan(localView, ledgerView, remoteView, options);
}

const uploads = (p: Plan) => p.uploads.map((u) => [u.path, u.reason, u.replaces]);
const deletes = (p: Plan) => p.deletes.map((d) => [d.fileId, d.reason]);
const tenTracked = Array.from({ length: 10 }, (_, i) => row(`f${i}`, `file_${i}`, `h${i}`));
const tenRemote = tenTracked.map((r) => remoteFile(r.fileId, r.remoteName));

const cases: Case[] = [
  {
    name: 'a new file is uploaded',
    local: [local('a.txt', 'h1')],
    expect: (p) => expect(uploads(p)).toEqual([['a.txt', 'new', null]]),
  },
  {
    name: 'an unchanged file costs nothing',
    local: [local('a.txt', 'h1')],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [remoteFile('file_a', 'a.txt')],
    expect: (p) => {
      expect(p.uploads).toEqual([]);
      expect(p.unchanged).toBe(1);
      expect(p.statUpdates).toEqual([]);
    },
  },
  {
    name: 'a touched file with the same content only updates the stat',
    local: [local('a.txt', 'h1', { mtimeMs: 2000 })],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [remoteFile('file_a', 'a.txt')],
    expect: (p) => {
      expect(p.uploads).toEqual([]);
      expect(p.statUpdates).toEqual([{ path: 'a.txt', size: 10, mtimeMs: 2000, ino: 1 }]);
    },
  },
  {
    name: 'a changed file is uploaded as a replacement of its old id (rule 2)',
    local: [local('a.txt', 'h2')],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [remoteFile('file_a', 'a.txt')],
    expect: (p) => {
      expect(uploads(p)).toEqual([['a.txt', 'changed', 'file_a']]);
      expect(p.deletes).toEqual([]); // the old id is deleted only after the switch, by the executor
    },
  },
  {
    name: 'a path whose remote name changed is uploaded again',
    local: [local('a.txt', 'h1')],
    ledger: { files: [row('a.txt', 'file_a', 'h1', { remoteName: 'old-name.txt' })] },
    remote: [remoteFile('file_a', 'old-name.txt')],
    expect: (p) => expect(uploads(p)).toEqual([['a.txt', 'renamed', 'file_a']]),
  },
  {
    name: 'a file deleted locally is deleted remotely in mirror mode',
    local: [local('b.txt', 'h2')],
    ledger: { files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')] },
    remote: [remoteFile('file_a', 'a.txt'), remoteFile('file_b', 'b.txt')],
    expect: (p) => {
      expect(deletes(p)).toEqual([['file_a', 'deleted']]);
      expect(p.deletes[0]!.fromLocalDelete).toBe(true);
    },
  },
  {
    name: 'keep mode deletes nothing remotely',
    local: [local('b.txt', 'h2')],
    ledger: { files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')] },
    remote: [remoteFile('file_a', 'a.txt'), remoteFile('file_b', 'b.txt')],
    options: { deleteMode: 'keep' },
    expect: (p) => expect(p.deletes).toEqual([]),
  },
  {
    name: 'a ledger id the remote lost is uploaded again',
    local: [local('a.txt', 'h1')],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [],
    expect: (p) => expect(uploads(p)).toEqual([['a.txt', 'missing-remote', 'file_a']]),
  },
  {
    name: 'a ledger id the remote lost, for a path gone locally, is forgotten',
    local: [local('b.txt', 'h2')],
    ledger: { files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')] },
    remote: [remoteFile('file_b', 'b.txt')],
    expect: (p) => {
      expect(p.forget).toEqual(['a.txt']);
      expect(p.deletes).toEqual([]);
    },
  },
  {
    name: 'pending deletes still listed are deleted; the others are marked already gone (their delete still goes: a listing can end short)',
    local: [],
    ledger: { pendingDeletes: [pending('file_old'), pending('file_gone')] },
    remote: [remoteFile('file_old', 'a.txt')],
    expect: (p) => {
      expect(deletes(p)).toEqual([['file_old', 'replaced']]);
      expect(p.alreadyGone).toEqual(['file_gone']);
    },
  },
  {
    name: 'files of other applications are never touched, whatever their name (rule 1)',
    local: [],
    ledger: { files: [] },
    remote: [remoteFile('file_foreign', 'a.txt'), remoteFile('file_foreign2', 'b.txt')],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.foreign).toBe(2);
    },
  },
  {
    name: 'an orphan of a lost answer is adopted when the local file still has its content (rule 3)',
    local: [local('a.txt', 'h1')],
    ledger: { inFlight: [inFlight(7, 'a.txt', 'h1', { unknownOutcomes: 2 })] },
    remote: [
      remoteFile('file_o1', 'a.txt', { created_at: new Date(NOW - 30_000).toISOString() }),
      remoteFile('file_o2', 'a.txt', { created_at: new Date(NOW - 20_000).toISOString() }),
    ],
    expect: (p) => {
      expect(p.adoptions.map((a) => [a.inFlight.id, a.file.id])).toEqual([[7, 'file_o1']]);
      expect(deletes(p)).toEqual([['file_o2', 'orphan']]);
      expect(p.uploads).toEqual([]);
      expect(p.settledInFlight).toEqual([7]);
      expect(p.foreign).toBe(0);
    },
  },
  {
    name: 'an orphan whose content the local file no longer has is deleted, and the file uploaded',
    local: [local('a.txt', 'h2')],
    ledger: { inFlight: [inFlight(7, 'a.txt', 'h1')] },
    remote: [remoteFile('file_o1', 'a.txt', { created_at: new Date(NOW - 30_000).toISOString() })],
    expect: (p) => {
      expect(p.adoptions).toEqual([]);
      expect(deletes(p)).toEqual([['file_o1', 'orphan']]);
      expect(uploads(p)).toEqual([['a.txt', 'new', null]]);
    },
  },
  {
    name: 'after a resolved upload, the other copies its lost attempts stored are deleted',
    local: [local('a.txt', 'h1')],
    ledger: {
      files: [row('a.txt', 'file_ok', 'h1')],
      inFlight: [inFlight(7, 'a.txt', 'h1', { resolvedFileId: 'file_ok' })],
    },
    remote: [
      remoteFile('file_ok', 'a.txt', { created_at: new Date(NOW - 10_000).toISOString() }),
      remoteFile('file_o1', 'a.txt', { created_at: new Date(NOW - 30_000).toISOString() }),
    ],
    expect: (p) => {
      expect(deletes(p)).toEqual([['file_o1', 'orphan']]);
      expect(p.adoptions).toEqual([]);
      expect(p.unchanged).toBe(1);
    },
  },
  {
    name: "a same-named file created well before the upload started is someone else's",
    local: [local('a.txt', 'h1')],
    ledger: { inFlight: [inFlight(7, 'a.txt', 'h1')] },
    remote: [remoteFile('file_foreign', 'a.txt', { created_at: new Date(NOW - 3_600_000).toISOString() })],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.adoptions).toEqual([]);
      expect(p.foreign).toBe(1);
      // A ledger past its look-alike check: another application's same-name file does not hold the upload.
      expect(uploads(p)).toEqual([['a.txt', 'new', null]]);
      expect(p.alreadyRemote).toEqual([]);
    },
  },
  {
    name: 'a same-named foreign file holds the upload of a fresh ledger (lost state: adopt, or allow duplicates)',
    local: [local('a.txt', 'h1')],
    ledger: { inFlight: [inFlight(7, 'a.txt', 'h1')] },
    remote: [remoteFile('file_foreign', 'a.txt', { created_at: new Date(NOW - 3_600_000).toISOString() })],
    options: { holdLookalikes: true },
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.adoptions).toEqual([]);
      expect(uploads(p)).toEqual([]);
      expect(p.alreadyRemote).toEqual(['a.txt']);
    },
  },
  {
    name: 'a new path whose name and size the workspace holds already is held, not uploaded (lost state)',
    local: [local('a.txt', 'h1'), local('b.txt', 'h2')],
    remote: [remoteFile('file_other', 'a.txt'), remoteFile('file_bigger', 'b.txt', { size_bytes: 999 })],
    options: { holdLookalikes: true },
    expect: (p) => {
      expect(p.alreadyRemote).toEqual(['a.txt']);
      expect(uploads(p)).toEqual([['b.txt', 'new', null]]);
      expect(p.deletes).toEqual([]);
    },
  },
  {
    name: 'two paths with one remote name and size in flight at once: ambiguous, nothing touched, copies unclaimed (rule 3)',
    local: [local('a/README.md', 'hA'), local('b/README.md', 'hB')],
    ledger: {
      inFlight: [
        inFlight(1, 'a/README.md', 'hA', { remoteName: 'README.md' }),
        inFlight(2, 'b/README.md', 'hB', { remoteName: 'README.md' }),
      ],
    },
    remote: [
      remoteFile('file_b', 'README.md', { created_at: new Date(NOW - 30_000).toISOString() }),
      remoteFile('file_a', 'README.md', { created_at: new Date(NOW - 20_000).toISOString() }),
    ],
    options: { remoteName: (p) => p.split('/').at(-1)! },
    expect: (p) => {
      expect(p.adoptions).toEqual([]);
      expect(p.deletes).toEqual([]);
      expect(p.unclaimed.map((c) => c.fileId).sort()).toEqual(['file_a', 'file_b']);
      expect(p.settledInFlight).toEqual([1, 2]);
      expect(uploads(p).sort()).toEqual([
        ['a/README.md', 'new', null],
        ['b/README.md', 'new', null],
      ]);
    },
  },
  {
    name: 'an orphan older than the ledger copy is not adopted over it (the sweep sees an old walk)',
    local: [local('a.txt', 'hA')],
    ledger: {
      files: [row('a.txt', 'file_new', 'hB', { uploadedAt: new Date(NOW - 5_000).toISOString() })],
      inFlight: [inFlight(7, 'a.txt', 'hA', { startedAt: NOW - 60_000 })],
    },
    remote: [remoteFile('file_new', 'a.txt'), remoteFile('file_oldA', 'a.txt', { created_at: new Date(NOW - 50_000).toISOString() })],
    expect: (p) => {
      expect(p.adoptions).toEqual([]);
      expect(deletes(p)).toEqual([['file_oldA', 'orphan']]);
    },
  },
  {
    name: "a same-named file created long after the upload could have ended is someone else's",
    local: [local('a.txt', 'h1')],
    ledger: {
      inFlight: [inFlight(7, 'a.txt', 'h1', { startedAt: NOW - 3 * 86_400_000, attemptsEndedAt: NOW - 3 * 86_400_000 + 30_000 })],
    },
    remote: [remoteFile('file_later', 'a.txt', { created_at: new Date(NOW - 3_600_000).toISOString() })],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.adoptions).toEqual([]);
      expect(p.foreign).toBe(1);
    },
  },
  ...orphanCases(),
  {
    name: 'an incomplete listing settles no in-flight upload and deletes no path',
    local: [],
    ledger: { files: [row('a.txt', 'file_a', 'h1')], inFlight: [inFlight(7, 'a.txt', 'h1')] },
    remote: [remoteFile('file_o1', 'a.txt', { created_at: new Date(NOW - 30_000).toISOString() })],
    remoteComplete: false,
    expect: (p) => {
      expect(p.settledInFlight).toEqual([]);
      expect(p.deletes).toEqual([]);
      expect(p.deletesBlocked).toMatch(/listing/);
    },
  },
  {
    name: 'an incomplete walk deletes nothing (rule 4)',
    local: [local('b.txt', 'h2')],
    localComplete: false,
    ledger: { files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')] },
    remote: [remoteFile('file_a', 'a.txt'), remoteFile('file_b', 'b.txt')],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.deletesBlocked).toMatch(/could not be read/);
    },
  },
  ...unseenCases(),
  {
    name: 'a failed walk plans no upload and no path delete',
    local: null,
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [remoteFile('file_a', 'a.txt')],
    expect: (p) => {
      expect(p.uploads).toEqual([]);
      expect(p.deletes).toEqual([]);
      expect(p.deletesBlocked).toMatch(/walk failed/);
    },
  },
  {
    name: 'a missing root marker or another device deletes nothing',
    local: [local('b.txt', 'h2')],
    ledger: { files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')] },
    remote: [remoteFile('file_a', 'a.txt'), remoteFile('file_b', 'b.txt')],
    options: { rootDistrust: 'the root marker .files-sync-root is missing' },
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.deletesBlocked).toMatch(/marker/);
    },
  },
  {
    name: 'an empty root while the ledger is not deletes nothing',
    local: [],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [remoteFile('file_a', 'a.txt')],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.deletesBlocked).toMatch(/empty/);
    },
  },
  {
    name: 'more deletes than maxCount are held',
    local: [local('f9', 'h9')],
    ledger: { files: tenTracked },
    remote: tenRemote,
    options: { maxDeleteCount: 5, maxDeleteShare: 1 },
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.held?.count).toBe(9);
      expect(p.held?.reason).toMatch(/maxCount.*--allow-mass-delete/);
    },
  },
  {
    name: 'held deletes pass with --allow-mass-delete',
    local: [local('f9', 'h9')],
    ledger: { files: tenTracked },
    remote: tenRemote,
    options: { maxDeleteCount: 5, allowMassDelete: true },
    expect: (p) => {
      expect(p.deletes).toHaveLength(9);
      expect(p.held).toBeNull();
    },
  },
  {
    name: 'more than maxShare of the tracked files is held',
    local: tenTracked.slice(0, 4).map((r) => local(r.path, r.sha256)),
    ledger: { files: tenTracked },
    remote: tenRemote,
    options: { maxDeleteShare: 0.5 },
    expect: (p) => {
      expect(p.held?.count).toBe(6);
      expect(p.held?.reason).toMatch(/maxShare/);
    },
  },
  {
    name: 'a move is not a deletion: renaming a whole folder does not trip the guard',
    local: tenTracked.map((r) => local(`moved/${r.path}`, r.sha256)),
    ledger: { files: tenTracked },
    remote: tenRemote,
    options: { maxDeleteCount: 2, maxDeleteShare: 0.1 },
    expect: (p) => {
      expect(p.held).toBeNull();
      expect(p.uploads).toHaveLength(10);
      expect(p.deletes).toHaveLength(10);
    },
  },
  {
    name: 'rule 4: a thousand deleted empty files are not excused by one new empty file',
    local: [local('new-empty', 'e0', { size: 0 })],
    ledger: {
      files: Array.from({ length: 1000 }, (_, i) => row(`empty/${String(i).padStart(4, '0')}`, `file_e${i}`, 'e0', { size: 0 })),
    },
    remote: Array.from({ length: 1000 }, (_, i) => remoteFile(`file_e${i}`, `empty∕${String(i).padStart(4, '0')}`, { size_bytes: 0 })),
    options: { maxDeleteCount: 100, maxDeleteShare: 1 },
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.held?.count).toBe(1000);
      expect(p.held?.reason).toMatch(/^999 files deleted locally/);
      // A count, and only the first ten paths to show.
      expect(p.held?.paths).toEqual(Array.from({ length: 10 }, (_, i) => `empty/${String(i).padStart(4, '0')}`));
    },
  },
  {
    name: 'rule 4: moves pair one to one: three moved copies of one content excuse three deletes, not a fourth',
    local: ['m/a', 'm/b', 'm/c'].map((p) => local(p, 'same')),
    ledger: { files: ['a', 'b', 'c', 'd'].map((p) => row(p, `file_${p}`, 'same')) },
    remote: ['a', 'b', 'c', 'd'].map((p) => remoteFile(`file_${p}`, p)),
    options: { maxDeleteCount: 0, maxDeleteShare: 1 },
    expect: (p) => {
      expect(p.held?.reason).toMatch(/^1 files deleted locally/);
      const relaxed = run({
        name: 'relaxed',
        local: ['m/a', 'm/b', 'm/c'].map((q) => local(q, 'same')),
        ledger: { files: ['a', 'b', 'c'].map((q) => row(q, `file_${q}`, 'same')) },
        remote: ['a', 'b', 'c'].map((q) => remoteFile(`file_${q}`, q)),
        options: { maxDeleteCount: 0, maxDeleteShare: 1 },
        expect: () => undefined,
      });
      expect(relaxed.held).toBeNull();
      expect(relaxed.deletes).toHaveLength(3);
    },
  },
  {
    name: "rule 4: paths added outside the plan (the daemon's path jobs) pair the same way, one to one",
    unlisted: true,
    local: [],
    ledger: {
      files: [...Array.from({ length: 10 }, (_, i) => row(`gone${i}`, `file_g${i}`, 'e0')), row('kept', 'file_k', 'hk')],
    },
    options: {
      scope: (p) => p.startsWith('gone'),
      maxDeleteCount: 3,
      maxDeleteShare: 1,
      recentlyAdded: [{ path: 'new-empty', sha256: 'e0' }],
    },
    expect: (p) => {
      expect(p.held?.count).toBe(10);
      expect(p.held?.reason).toMatch(/^9 files deleted locally/);
    },
  },
  {
    name: 'a file over the size limit is a recorded failure, its old copy kept',
    local: [local('big.bin', null, { size: 5000 })],
    ledger: { files: [row('big.bin', 'file_big', 'h1')] },
    remote: [remoteFile('file_big', 'big.bin')],
    expect: (p) => {
      expect(p.uploads).toEqual([]);
      expect(p.deletes).toEqual([]);
      expect(p.skips).toEqual([
        {
          path: 'big.bin',
          reason: expect.stringMatching(/too large/),
          failed: true,
          record: { retry: 'on-change', stat: { size: 5000, mtimeMs: 1000 } },
        },
      ]);
    },
  },
  {
    name: 'a permanent failure waits until the file changes',
    local: [local('bad.txt', 'h1')],
    ledger: { failures: [failure('bad.txt')] },
    expect: (p) => {
      expect(p.uploads).toEqual([]);
      expect(p.skips[0]?.reason).toMatch(/waiting for the file to change/);
    },
  },
  {
    name: 'a permanent failure is retried once the file changed',
    local: [local('bad.txt', 'h2', { mtimeMs: 5000 })],
    ledger: { failures: [failure('bad.txt')] },
    expect: (p) => expect(uploads(p)).toEqual([['bad.txt', 'new', null]]),
  },
  {
    name: 'a retryable failure backs off until its time',
    local: [local('a.txt', 'h1')],
    ledger: { failures: [failure('a.txt', { retryable: true, nextRetryAt: NOW + 1000 })] },
    expect: (p) => expect(p.uploads).toEqual([]),
  },
  {
    name: 'a retry time further off than the longest back-off (a clock since set back) is due now',
    local: [local('a.txt', 'h1')],
    ledger: { failures: [failure('a.txt', { retryable: true, nextRetryAt: NOW + 86_400_000 })] },
    expect: (p) => expect(uploads(p)).toEqual([['a.txt', 'new', null]]),
  },
  {
    name: 'a retryable failure is retried after its time',
    local: [local('a.txt', 'h1')],
    ledger: { failures: [failure('a.txt', { retryable: true, nextRetryAt: NOW - 1 })] },
    expect: (p) => expect(uploads(p)).toEqual([['a.txt', 'new', null]]),
  },
  {
    name: 'an unreadable file is a failure, never a deletion',
    local: [local('b.txt', 'h2')],
    problems: [{ path: 'a.txt', kind: 'unreadable', reason: 'EACCES' }],
    ledger: { files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')] },
    remote: [remoteFile('file_a', 'a.txt'), remoteFile('file_b', 'b.txt')],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.skips).toEqual([{ path: 'a.txt', reason: 'EACCES', failed: true, record: { retry: 'backoff', stat: null } }]);
    },
  },
  {
    name: 'a file changing during the walk waits, unrecorded',
    local: [],
    problems: [{ path: 'a.txt', kind: 'changing', reason: 'size changed' }],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    remote: [remoteFile('file_a', 'a.txt')],
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.deletesBlocked).toBeNull();
      expect(p.skips[0]?.record).toBeNull();
    },
  },
  {
    name: 'per-path (unlisted): a gone path in scope is deleted, rows out of scope are left alone',
    unlisted: true,
    local: [],
    ledger: {
      files: [row('a.txt', 'file_a', 'h1'), row('b.txt', 'file_b', 'h2')],
      pendingDeletes: [pending('file_old')],
      inFlight: [inFlight(3, 'a.txt', 'h1')],
    },
    options: { scope: (p) => p === 'a.txt' },
    expect: (p) => {
      expect(deletes(p)).toEqual([['file_a', 'deleted']]);
      expect(p.settledInFlight).toEqual([]);
      expect(p.alreadyGone).toEqual([]);
      expect(p.deletesBlocked).toBeNull();
    },
  },
  {
    name: 'per-path (unlisted): a changed file is replaced, trusting the ledger for the remote side',
    unlisted: true,
    local: [local('a.txt', 'h2')],
    ledger: { files: [row('a.txt', 'file_a', 'h1')] },
    options: { scope: (p) => p === 'a.txt' },
    expect: (p) => expect(uploads(p)).toEqual([['a.txt', 'changed', 'file_a']]),
  },
  {
    name: 'per-path (unlisted): a burst of deletes still trips the guard',
    unlisted: true,
    local: [],
    ledger: { files: tenTracked },
    options: { scope: () => true, maxDeleteCount: 3 },
    expect: (p) => {
      expect(p.deletes).toEqual([]);
      expect(p.held?.count).toBe(10);
    },
  },
];

/** Rule 3 on the server's clock: foreign files of the same name and size before, in and after a window. */
function orphanCases(): Case[] {
  const at = (ms: number) => new Date(ms).toISOString();
  const start = NOW - 60_000;
  const end = NOW - 10_000;
  const row = (extra: Partial<InFlightUpload> = {}) => inFlight(7, 'report.pdf', 'h1', { unknownOutcomes: 5, ...extra });
  const own = (n: number, offset = 0) =>
    Array.from({ length: n }, (_, i) => remoteFile(`file_own${i}`, 'report.pdf', { created_at: at(start + offset + 1000 * (i + 1)) }));
  const noTouch = (p: Plan, foreign: string) => {
    expect(p.deletes.map((d) => d.fileId)).not.toContain(foreign);
    expect(p.adoptions.map((a) => a.file.id)).not.toContain(foreign);
  };
  return [
    {
      name: 'rule 3: a foreign file 30 s before the intent is not a candidate; our five copies settle (one adopted)',
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row()] },
      remote: [remoteFile('file_foreign', 'report.pdf', { created_at: at(start - 30_000) }), ...own(5)],
      expect: (p) => {
        noTouch(p, 'file_foreign');
        expect(p.adoptions.map((a) => a.file.id)).toEqual(['file_own0']);
        expect(p.deletes).toHaveLength(4);
        expect(p.foreign).toBe(1);
        expect(p.unclaimed).toEqual([]);
      },
    },
    {
      name: 'rule 3: a foreign file during the attempts makes six copies for five attempts: none touched, all unclaimed',
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row()] },
      remote: [...own(5), remoteFile('file_foreign', 'report.pdf', { created_at: at(start + 2500) })],
      expect: (p) => {
        expect(p.adoptions).toEqual([]);
        expect(p.deletes).toEqual([]);
        expect(p.unclaimed.map((c) => c.fileId).sort()).toEqual([
          'file_foreign',
          'file_own0',
          'file_own1',
          'file_own2',
          'file_own3',
          'file_own4',
        ]);
        expect(p.unclaimed[0]).toMatchObject({
          path: 'report.pdf',
          remoteName: 'report.pdf',
          size: 10,
          sha256: 'h1',
          reason: expect.stringMatching(/6 copies for 5 attempts/),
        });
        expect(uploads(p)).toEqual([['report.pdf', 'new', null]]);
        expect(p.settledInFlight).toEqual([7]);
      },
    },
    {
      name: 'rule 3: partial loss (one lost answer, then success): a second copy in the window is ambiguous',
      local: [local('report.pdf', 'h1')],
      ledger: {
        files: [row_('report.pdf', 'file_ok', 'h1')],
        inFlight: [row({ unknownOutcomes: 1, resolvedFileId: 'file_ok' })],
      },
      remote: [remoteFile('file_ok', 'report.pdf'), ...own(1), remoteFile('file_foreign', 'report.pdf', { created_at: at(start + 5000) })],
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.unclaimed.map((c) => c.fileId).sort()).toEqual(['file_foreign', 'file_own0']);
      },
    },
    {
      name: 'rule 3: a foreign file 30 s after the last attempt ended is not a candidate',
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row({ unknownOutcomes: 1 })] },
      remote: [...own(1), remoteFile('file_foreign', 'report.pdf', { created_at: at(end + 30_000) })],
      expect: (p) => {
        noTouch(p, 'file_foreign');
        expect(p.adoptions.map((a) => a.file.id)).toEqual(['file_own0']);
        expect(p.foreign).toBe(1);
      },
    },
    {
      name: 'rule 3: a copy just older than the intent (inside the skew) makes the row ambiguous',
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row({ unknownOutcomes: 2 })] },
      remote: [remoteFile('file_early', 'report.pdf', { created_at: at(start - 2000) }), ...own(1)],
      expect: (p) => {
        expect(p.adoptions).toEqual([]);
        expect(p.deletes).toEqual([]);
        expect(p.unclaimed.map((c) => c.fileId).sort()).toEqual(['file_early', 'file_own0']);
        expect(p.unclaimed[0]?.reason).toMatch(/older than the upload/);
      },
    },
    {
      name: 'rule 3: a copy in the windows of two rows is claimed by neither',
      local: [local('report.pdf', 'h1')],
      ledger: {
        inFlight: [row({ id: 7, unknownOutcomes: 1 }), row({ id: 8, unknownOutcomes: 1, startedAt: start + 20_000 })],
      },
      remote: [remoteFile('file_both', 'report.pdf', { created_at: at(start + 30_000) })],
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.adoptions).toEqual([]);
        expect(p.unclaimed.map((c) => c.fileId)).toEqual(['file_both']);
      },
    },
    {
      name: "rule 3: the window is on the server's clock: ten minutes ahead, our copies match and a local-clock look-alike does not",
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row({ unknownOutcomes: 2, clockOffsetMs: 600_000 })] },
      remote: [remoteFile('file_foreign', 'report.pdf', { created_at: at(start + 1000) }), ...own(2, 600_000)],
      expect: (p) => {
        noTouch(p, 'file_foreign');
        expect(p.adoptions.map((a) => a.file.id)).toEqual(['file_own0']);
        expect(deletes(p)).toEqual([['file_own1', 'orphan']]);
      },
    },
    {
      name: "rule 3: a crash while this host's clock ran an hour ahead, set right before this plan: the copies are still found",
      local: [local('report.pdf', 'h1')],
      // Stamped on the host's clock as it was (an hour ahead), with the offset measured then.
      ledger: { inFlight: [row({ startedAt: start + 3600_000, clockOffsetMs: -3600_000, attemptsEndedAt: null })] },
      remote: own(3),
      options: { serverOffsetMs: 0 },
      expect: (p) => {
        expect(p.adoptions.map((a) => a.file.id)).toEqual(['file_own0']);
        expect(deletes(p)).toEqual([
          ['file_own1', 'orphan'],
          ['file_own2', 'orphan'],
        ]);
        expect(p.unclaimed).toEqual([]);
      },
    },
    {
      name: 'rule 3: a row written before any answer uses the offset measured now; without one nothing is touched',
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row({ unknownOutcomes: 1, clockOffsetMs: null })] },
      remote: own(1, -600_000),
      options: { serverOffsetMs: -600_000 },
      expect: (p) => {
        expect(p.adoptions.map((a) => a.file.id)).toEqual(['file_own0']);
        const blind = run({
          name: 'blind',
          local: [local('report.pdf', 'h1')],
          ledger: { inFlight: [row({ unknownOutcomes: 1, clockOffsetMs: null })] },
          remote: own(1),
          expect: () => undefined,
        });
        expect(blind.adoptions).toEqual([]);
        expect(blind.deletes).toEqual([]);
        expect(blind.unclaimed.map((c) => c.fileId)).toEqual(['file_own0']);
      },
    },
    {
      name: "rule 3: after a crash (no recorded end) at most the attempts of one call are taken, up to the plan's time",
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row({ unknownOutcomes: 0, attemptsEndedAt: null })] },
      remote: [...own(1), remoteFile('file_later', 'report.pdf', { created_at: at(NOW + 60_000) })],
      expect: (p) => {
        noTouch(p, 'file_later');
        expect(p.adoptions.map((a) => a.file.id)).toEqual(['file_own0']);
      },
    },
    {
      name: 'rule 3: recorded unclaimed copies are never matched again, and are forgotten once gone',
      local: [local('report.pdf', 'h1')],
      ledger: { inFlight: [row({ unknownOutcomes: 1 })], unclaimed: ['file_own0', 'file_gone'] },
      remote: own(1),
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.adoptions).toEqual([]);
        expect(p.unclaimedGone).toEqual(['file_gone']);
        expect(p.foreign).toBe(0);
      },
    },
  ];
}

describe('plan', () => {
  for (const c of cases) it(c.name, () => c.expect(run(c)));

  it('pairMoves: each added path excuses one deleted path of its content; a path is no move of itself', () => {
    const moves = pairMoves(
      [
        { path: 'a', sha256: 'x' },
        { path: 'b', sha256: 'x' },
        { path: 'c', sha256: 'y' },
        { path: 'same', sha256: 'z' },
      ],
      [
        { path: 'n1', sha256: 'x' },
        { path: 'n2', sha256: 'y' },
        { path: 'n3', sha256: 'y' },
        { path: 'same', sha256: 'z' },
      ],
    );
    expect([...moves].sort()).toEqual(['a', 'c']);
  });

  it('is deterministic and does not mutate its input', () => {
    const input: Case = cases.find((c) => c.name.startsWith('an orphan of a lost answer'))!;
    const before = JSON.stringify(input);
    expect(JSON.stringify(run(input))).toEqual(JSON.stringify(run(input)));
    expect(JSON.stringify(input)).toEqual(before);
  });
});

/** Rule 4 scoped: a folder the walk could not list holds the rows under it, no other. */
function unseenCases(): Case[] {
  const unreadable: LocalProblem = { path: 'a/b', kind: 'unreadable', reason: 'EACCES: permission denied' };
  const rows = [
    row('a/b/x.txt', 'file_x', 'h1'),
    row('a/b/y/z.txt', 'file_z', 'h2'),
    row('a/bc/x', 'file_bc', 'h3'),
    row('a/b.txt', 'file_bt', 'h4'),
    row('c.txt', 'file_c', 'h5'),
    row('keep.txt', 'file_k', 'h6'),
  ];
  const remote = rows.map((r) => remoteFile(r.fileId, name(r.path)));
  const scoped = { local: [local('keep.txt', 'h6')], problems: [unreadable], localComplete: false, unseen: ['a/b'] };
  return [
    {
      name: 'a folder the walk could not read: a row beside it or sharing only its prefix is deleted, a row under it is kept',
      ...scoped,
      ledger: { files: rows },
      remote,
      expect: (p) => {
        expect(p.deletesBlocked).toBeNull();
        expect(p.held).toBeNull();
        expect(deletes(p)).toEqual([
          ['file_bt', 'deleted'],
          ['file_bc', 'deleted'],
          ['file_c', 'deleted'],
        ]);
        expect(p.unseenKept).toBe(2);
        expect(p.skips.map((s) => [s.path, s.failed])).toEqual([['a/b', true]]);
      },
    },
    {
      name: 'a row under a folder the walk could not read whose copy the listing left out is not forgotten; one beside it is',
      ...scoped,
      ledger: { files: [row('a/b/x.txt', 'file_x', 'h1'), row('c.txt', 'file_c', 'h5'), row('keep.txt', 'file_k', 'h6')] },
      remote: [remoteFile('file_k', 'keep.txt')],
      expect: (p) => {
        expect(p.forget).toEqual(['c.txt']);
        expect(p.deletes).toEqual([]);
        expect(p.unseenKept).toBe(1);
      },
    },
    {
      name: 'the deletes beside a folder the walk could not read still meet the mass-delete guard',
      ...scoped,
      ledger: { files: rows },
      remote,
      options: { maxDeleteCount: 2 },
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.held).toMatchObject({ count: 3, paths: ['a/b.txt', 'a/bc/x', 'c.txt'] });
      },
    },
    {
      name: 'a row under a folder the walk could not read pairs with no new path: the move is the deleted row beside it',
      local: [local('keep.txt', 'h6'), local('new/z.txt', 'h2'), local('new/c.txt', 'h5')],
      problems: [unreadable],
      localComplete: false,
      unseen: ['a/b'],
      ledger: { files: rows },
      remote,
      options: { maxDeleteCount: 2 },
      expect: (p) => {
        // Three gone beside the folder, one of them a move (c.txt to new/c.txt): two count, allowed.
        expect(deletes(p)).toEqual([
          ['file_bt', 'deleted'],
          ['file_bc', 'deleted'],
          ['file_c', 'deleted'],
        ]);
        expect(p.unseenKept).toBe(2);
      },
    },
    {
      name: 'the root marker missing still blocks the deletes beside a folder the walk could not read',
      ...scoped,
      ledger: { files: rows },
      remote,
      options: { rootDistrust: 'the root marker is missing' },
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.deletesBlocked).toBe('the root marker is missing');
      },
    },
    {
      name: 'an incomplete walk that names no folder it could not read holds every delete',
      ...scoped,
      unseen: [],
      ledger: { files: rows },
      remote,
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.deletesBlocked).toMatch(/could not be read/);
      },
    },
    {
      name: `more than ${UNSEEN_FOLDERS_MAX} folders the walk could not read hold every delete`,
      ...scoped,
      unseen: Array.from({ length: UNSEEN_FOLDERS_MAX + 1 }, (_, i) => `locked-${i}`),
      ledger: { files: rows },
      remote,
      expect: (p) => {
        expect(p.deletes).toEqual([]);
        expect(p.deletesBlocked).toMatch(/could not be read/);
      },
    },
  ];
}
