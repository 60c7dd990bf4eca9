// Reconciliation that scales with ownership (GA): the choice between look-ups and a full listing,
// and `files-sync sync` against a workspace of 20,000 foreign files and 300 owned ones.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { FileMetadata, RemoteFiles } from '../../src/remote/types.js';
import { chooseRemoteMode, WORKSPACE_META_KEY, type WorkspaceSeen } from '../../src/sync/remote-choice.js';
import { readRemoteSide } from '../../src/sync/remote-view.js';
import { emulator, expectExactState, localHashes, requestTotals, syncSetup, TEST_KEY, writeTree, type SyncSetup } from '../helpers/sync.js';

const HOUR = 3_600_000;

describe('chooseRemoteMode', () => {
  const seen = (total: number, ageHours = 1): WorkspaceSeen => ({
    total,
    foreign: total - 300,
    listedAt: 100 * HOUR - ageHours * HOUR,
  });
  const cases: [string, Parameters<typeof chooseRemoteMode>[0], 'full' | 'owned'][] = [
    ['beta: no look-up', { canLookup: false, owned: 300, seen: seen(20_300), now: 100 * HOUR, fullListHours: 24 }, 'full'],
    ['never listed', { canLookup: true, owned: 300, seen: undefined, now: 100 * HOUR, fullListHours: 24 }, 'full'],
    [
      '300 owned in 20,300: 3 look-ups < 21 pages',
      { canLookup: true, owned: 300, seen: seen(20_300), now: 100 * HOUR, fullListHours: 24 },
      'owned',
    ],
    ['last full listing 24 h old', { canLookup: true, owned: 300, seen: seen(20_300, 24), now: 100 * HOUR, fullListHours: 24 }, 'full'],
    ['fullListHours 0: always list', { canLookup: true, owned: 300, seen: seen(20_300, 0), now: 100 * HOUR, fullListHours: 0 }, 'full'],
    ['owned only: 5 look-ups against 1 page', { canLookup: true, owned: 500, seen: seen(500), now: 100 * HOUR, fullListHours: 24 }, 'full'],
    ['a tie lists', { canLookup: true, owned: 1000, seen: seen(10_000), now: 100 * HOUR, fullListHours: 24 }, 'full'],
    [
      'nothing owned, one page seen: nothing to look up',
      { canLookup: true, owned: 0, seen: seen(900), now: 100 * HOUR, fullListHours: 24 },
      'owned',
    ],
    [
      'nothing owned in a big workspace: no request at all',
      { canLookup: true, owned: 0, seen: seen(50_000), now: 100 * HOUR, fullListHours: 24 },
      'owned',
    ],
  ];
  for (const [what, input, mode] of cases) it(what, () => expect(chooseRemoteMode(input).mode).toBe(mode));
});

describe('readRemoteSide guards (rule 4)', () => {
  const meta = (id: string, created: string, extra: Partial<FileMetadata> = {}): FileMetadata => ({
    id,
    type: 'file',
    filename: `${id}.txt`,
    mime_type: 'text/plain',
    size_bytes: 1,
    created_at: created,
    ...extra,
  });
  const row = (fileId: string) => ({
    path: `${fileId}.txt`,
    fileId,
    size: 1,
    mtimeMs: 1,
    ino: 1,
    sha256: 'x',
    mimeType: 'text/plain',
    remoteName: `${fileId}.txt`,
    uploadedAt: '2026-01-01T00:00:00Z',
  });
  /** The ledger's side of readRemoteSide over a few rows (each row's key its index), recording what it marks. */
  const ledgerOf = (rows: ReturnType<typeof row>[]) => {
    const listed = new Set<string>();
    const ids = rows.map((r) => r.fileId).sort();
    return {
      listed,
      fileCount: () => rows.length,
      ownedIdsAfter: (after: string | null, limit: number) => ids.filter((id) => after === null || id > after).slice(0, limit),
      currentRows: (wanted: readonly string[]) => new Map(wanted.filter((id) => ids.includes(id)).map((id) => [id, ids.indexOf(id)])),
      isListed: (key: number) => listed.has(ids[key]!),
      markListed: (keys: Iterable<number>, reset = false) => {
        if (reset) listed.clear();
        let added = 0;
        for (const key of keys) {
          if (listed.has(ids[key]!)) continue;
          listed.add(ids[key]!);
          added++;
        }
        return added;
      },
    };
  };
  const base = {
    pendingDeletes: [],
    inFlight: [],
    seen: { total: 50_000, foreign: 49_000, listedAt: 0 },
    now: HOUR,
    fullListHours: 24,
    orphanSkewMs: 120_000,
  };

  it('a failed look-up rejects: no view, so no plan and no delete', async () => {
    const remote = {
      contract: 'ga',
      list: async function* () {},
      lookup: async (ids: readonly string[]) => {
        if (ids.includes('file_150')) throw new Error('503 from the API');
        return ids.map((id) => meta(id, '2026-01-01T00:00:00.000000Z'));
      },
    } as unknown as RemoteFiles;
    const files = Array.from({ length: 250 }, (_, i) => row(`file_${i}`));
    await expect(readRemoteSide({ ...base, remote, ledger: ledgerOf(files) })).rejects.toThrow(/503/);
  });

  it('leaves out a current copy whose expires_at passed on the API clock, not a pending delete', async () => {
    const past = '2026-01-01T00:00:00.000000Z';
    const remote = {
      contract: 'ga',
      serverNow: () => Date.parse('2026-06-01T00:00:00Z'),
      list: async function* () {},
      lookup: async (ids: readonly string[]) =>
        ids.map((id) => meta(id, '2025-01-01T00:00:00.000000Z', { expires_at: id === 'file_live' ? null : past })),
    } as unknown as RemoteFiles;
    const ledger = ledgerOf([row('file_live'), row('file_expired')]);
    const side = await readRemoteSide({
      ...base,
      remote,
      ledger,
      pendingDeletes: [{ fileId: 'file_old', path: null, reason: 'replaced', attempts: 0, lastError: null, createdAt: 0 }],
    });
    expect(side.choice.mode).toBe('owned');
    // Current copies go to the ledger's join (the expired one does not: its path uploads again); the rest stays in the view.
    expect([...ledger.listed]).toEqual(['file_live']);
    expect(side.current).toBe(1);
    expect(side.view.files.map((f) => f.id)).toEqual(['file_old']);
    expect(side.view.complete).toBe(true);
  });

  it("counts a copy once when a look-up and the recent listing both return it, and forgets the last run's marks", async () => {
    const copy = (id: string) => meta(id, '2026-01-01T00:00:00.000000Z');
    const remote = {
      contract: 'ga',
      list: async function* () {
        yield copy('file_a');
      },
      lookup: async (ids: readonly string[]) => ids.map(copy),
    } as unknown as RemoteFiles;
    const ledger = ledgerOf([row('file_a'), row('file_b')]);
    // An open upload of unknown clock offset: the recent listing reaches back to the first file.
    const inFlight = [{ id: 1, path: 'n.txt', remoteName: 'n.txt', size: 1, sha256: 'x', mimeType: 'text/plain', startedAt: 0 }];
    const owned = await readRemoteSide({ ...base, remote, ledger, inFlight: inFlight as never });
    expect(owned.choice.mode).toBe('owned');
    expect(owned.current).toBe(2); // file_a from both sources, file_b from its look-up
    expect(owned.seen).toBeNull();
    // A full listing of two pages, the copy on the second: file_b, marked by the last run, is not found now.
    const twoPages = {
      contract: 'ga',
      list: async function* () {
        for (let i = 0; i < 1000; i++) yield meta(`file_theirs${i}`, '2026-01-01T00:00:00.000000Z');
        yield copy('file_a');
      },
    } as unknown as RemoteFiles;
    const full = await readRemoteSide({ ...base, seen: undefined, remote: twoPages, ledger });
    expect(full.choice.mode).toBe('full');
    expect(full.current).toBe(1);
    expect([...ledger.listed]).toEqual(['file_a']);
    expect(full.view.files).toHaveLength(1000);
    expect(full.seen?.total).toBe(1001);
  });
});

describe('sync of 300 owned files in a workspace of 20,000 foreign ones (GA)', () => {
  let emu: Emulator;
  let setup: SyncSetup;
  const FOREIGN = 20_000;
  const OWNED = 300;

  beforeAll(async () => {
    emu = await emulator();
    // The seed route's code, called in process: 20,000 HTTP requests would only slow the test.
    for (let i = 0; i < FOREIGN; i++) emu.seed({ filename: `foreign-${i}.txt`, content_base64: 'eA==' });
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    writeTree(setup.root, Object.fromEntries(Array.from({ length: OWNED }, (_, i) => [`dir${i % 7}/file-${i}.txt`, `content ${i}`])));
    const first = await setup.sync();
    expect(first.code, first.stderr).toBe(0);
    // Never listed before: a full listing, which records the workspace's size.
    expect(requestTotals(emu)['GET /v1/files']).toBe(Math.ceil(FOREIGN / 1000));
  }, 240_000);

  afterAll(async () => {
    setup?.cleanup();
    await emu?.close();
  });

  const ledgerMeta = () => {
    const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
    try {
      return ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY);
    } finally {
      ledger.close();
    }
  };
  const ownedId = (rel: string) => emu.state().files.find((f) => f.owner === 'self' && f.filename === rel.replace(/\//g, '∕'))!.id;

  it('a no-op reconciliation makes 3 ids[] calls and no listing', async () => {
    expect(ledgerMeta()).toMatchObject({ total: FOREIGN + OWNED, foreign: FOREIGN });
    emu.resetCounters();
    const run = await setup.sync(['--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(requestTotals(emu)).toEqual({ 'GET /v1/files?ids[]': 3 });
    // status still counts the foreign files, as the last full listing saw them.
    expect(JSON.parse(run.stdout)).toMatchObject({ uploaded: 0, unchanged: OWNED, foreign: FOREIGN });
  }, 120_000);

  it('a file deleted remotely by someone else is uploaded again, exactly that one', async () => {
    const id = ownedId('dir3/file-10.txt');
    const gone = await fetch(`${emu.url}/v1/files/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'anthropic-version': '2026-10-21' },
    });
    expect(gone.status).toBe(200);
    emu.resetCounters();
    const run = await setup.sync(['--json']);
    expect(run.code, run.stderr).toBe(0);
    // The executor confirms the copy is gone (GET 404) before uploading, then drops the stale id (DELETE 404).
    expect(requestTotals(emu)).toEqual({
      'GET /v1/files?ids[]': 3,
      'GET /v1/files/{id}': 1,
      'POST /v1/files': 1,
      'DELETE /v1/files/{id}': 1,
    });
    expect(emu.state().requests['DELETE /v1/files/{id}']).toEqual({ '404': 1 });
    expect(JSON.parse(run.stdout)).toMatchObject({ uploaded: 1 });
    expectExactState(emu, setup, localHashes(setup.root));
  }, 120_000);

  it('a file whose expires_at passed (the emulator clock advanced) is uploaded again', async () => {
    const id = ownedId('dir5/file-12.txt');
    emu.expire(id, 3600);
    emu.advanceClock(3601_000);
    emu.resetCounters();
    const run = await setup.sync(['--json']);
    expect(run.code, run.stderr).toBe(0);
    // Looked up, found expired: uploaded again and the expired copy deleted.
    expect(requestTotals(emu)).toEqual({
      'GET /v1/files?ids[]': 3,
      'GET /v1/files/{id}': 1,
      'POST /v1/files': 1,
      'DELETE /v1/files/{id}': 1,
    });
    expect(emu.state().requests['DELETE /v1/files/{id}']).toEqual({ '200': 1 });
    expect(emu.state().files.some((f) => f.id === id)).toBe(false);
    expectExactState(emu, setup, localHashes(setup.root));
  }, 120_000);

  it('after fullListHours a full listing runs again', async () => {
    const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
    try {
      const seen = ledger.getMetaJson<WorkspaceSeen>(WORKSPACE_META_KEY)!;
      ledger.setMetaJson(WORKSPACE_META_KEY, { ...seen, listedAt: Date.now() - 25 * HOUR });
    } finally {
      ledger.close();
    }
    emu.resetCounters();
    const run = await setup.sync();
    expect(run.code, run.stderr).toBe(0);
    expect(requestTotals(emu)).toEqual({ 'GET /v1/files': Math.ceil((FOREIGN + OWNED) / 1000) });
    expect(Date.now() - ledgerMeta()!.listedAt).toBeLessThan(HOUR);
  }, 120_000);
});
