// The restore window (rule 3 after `ledger restore`), table-driven: which remote files a restored
// ledger lists as unclaimed copies, on the server's clock, and the full listing it forces.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileMetadata } from '../../src/remote/types.js';
import { remoteName } from '../../src/sync/names.js';
import { chooseRemoteMode } from '../../src/sync/remote-choice.js';
import {
  matchRestoreWindow,
  parseRestoreWindow,
  restoreCopies,
  RESTORE_REASON,
  serverWindow,
  UNMEASURED_SKEW_MS,
  type RestoreMatchContext,
  type RestoreWindow,
} from '../../src/sync/restore-window.js';

const T0 = Date.parse('2026-05-01T12:00:00.000Z');
const SKEW = 5_000;
/** Backup taken at T0, restored ten minutes later; the server's clock a minute ahead. */
const window: RestoreWindow = { backup: 'ledger-x.db', takenAt: T0, restoredAt: T0 + 600_000, clockOffsetMs: 60_000 };

const file = (id: string, filename: string, createdMs: number, size = 4): FileMetadata => ({
  id,
  type: 'file',
  filename,
  mime_type: 'text/plain',
  size_bytes: size,
  created_at: new Date(createdMs).toISOString(),
});

const ctx = (extra: Partial<RestoreMatchContext> = {}): RestoreMatchContext => ({
  excluded: new Set(['file_owned']),
  paths: ['late.txt', 'docs/a.txt', 'change.txt'],
  remoteName,
  serverOffsetMs: 60_000,
  skewMs: SKEW,
  ...extra,
});

describe('matchRestoreWindow', () => {
  // Server times: the window is [T0 + 60 s - skew, T0 + 660 s + skew].
  const cases: [string, FileMetadata, Partial<RestoreMatchContext>, string | null][] = [
    ['a copy of a known path made inside the window is listed', file('f1', 'late.txt', T0 + 120_000), {}, 'late.txt'],
    ['a nested path by its remote name', file('f2', 'docs∕a.txt', T0 + 300_000), {}, 'docs/a.txt'],
    ['just inside the start (the skew)', file('f3', 'late.txt', T0 + 60_000 - SKEW), {}, 'late.txt'],
    ['just inside the end (the skew)', file('f4', 'late.txt', T0 + 660_000 + SKEW), {}, 'late.txt'],
    [
      'before the backup on the server clock (a foreign file made earlier): not listed',
      file('f5', 'late.txt', T0 + 60_000 - SKEW - 1),
      {},
      null,
    ],
    ['on the local clock it would be inside, on the server clock it is before the backup', file('f6', 'late.txt', T0 + 30_000), {}, null],
    ['after the restore (a later upload): not listed', file('f7', 'late.txt', T0 + 660_000 + SKEW + 1), {}, null],
    ['a name files-sync would not give any known path: not listed', file('f8', 'unrelated.txt', T0 + 120_000), {}, null],
    ['a path named only in the ledger counts too', file('f9', 'gone.txt', T0 + 120_000), { paths: ['gone.txt'] }, 'gone.txt'],
    ['an id the ledger owns: not listed', file('file_owned', 'late.txt', T0 + 120_000), {}, null],
    ['an unreadable created_at: not placed, not listed', { ...file('f10', 'late.txt', T0), created_at: 'not a date' }, {}, null],
    [
      'basename naming: docs/a.txt is named a.txt',
      file('f11', 'a.txt', T0 + 120_000),
      { remoteName: (p) => remoteName(path.posix.basename(p)) },
      'docs/a.txt',
    ],
    ['path naming: a.txt is not a name of docs/a.txt', file('f12', 'a.txt', T0 + 120_000), {}, null],
  ];
  for (const [what, f, extra, expected] of cases) {
    it(what, () => {
      const found = matchRestoreWindow(window, [f], ctx(extra));
      expect(found.map((c) => c.path)).toEqual(expected === null ? [] : [expected]);
      if (expected !== null) {
        expect(found[0]).toMatchObject({
          fileId: f.id,
          remoteName: f.filename,
          size: f.size_bytes,
          createdAt: f.created_at,
          reason: RESTORE_REASON,
        });
      }
    });
  }

  it('with no offset known at all: the local clock, widened by the loose allowance, and the reason says so', () => {
    const unmeasured = { ...window, clockOffsetMs: null };
    const inside = file('f1', 'late.txt', T0 - UNMEASURED_SKEW_MS + 1);
    const outside = file('f2', 'late.txt', T0 - UNMEASURED_SKEW_MS - 1);
    const found = matchRestoreWindow(unmeasured, [inside, outside], ctx({ serverOffsetMs: null }));
    expect(found.map((c) => c.fileId)).toEqual(['f1']);
    expect(found[0]!.reason).toMatch(/uploaded after the restored backup was taken.*no Date header/);
  });
});

describe('serverWindow', () => {
  it("converts the start with the backup's offset and the end with the one measured now", () => {
    expect(serverWindow({ ...window, clockOffsetMs: 1_000 }, 2_000, SKEW)).toEqual({
      start: T0 + 1_000 - SKEW,
      end: T0 + 600_000 + 2_000 + SKEW,
      measured: true,
    });
  });
  it('uses whichever offset is known for both ends', () => {
    expect(serverWindow({ ...window, clockOffsetMs: null }, 2_000, SKEW)).toEqual({
      start: T0 + 2_000 - SKEW,
      end: T0 + 602_000 + SKEW,
      measured: true,
    });
    expect(serverWindow(window, null, SKEW)).toEqual({
      start: T0 + 60_000 - SKEW,
      end: T0 + 660_000 + SKEW,
      measured: true,
    });
  });
});

describe('serverWindow after a clock step', () => {
  it("reaches at least to this reconciliation: a restore stamped while the host's clock ran a day behind still covers the copies", () => {
    const dayBehind = {
      ...window,
      takenAt: window.takenAt - 86_400_000,
      restoredAt: window.restoredAt - 86_400_000,
      clockOffsetMs: 86_400_000,
    };
    const now = T0 + 900_000; // the clock set right since
    const w = serverWindow(dayBehind, 0, SKEW, now);
    expect(w.start).toBe(T0 - SKEW); // the backup's time, on the server's clock
    expect(w.end).toBe(now + SKEW);
    // Without the plan's time it ended a day early, before any copy made since the backup.
    expect(serverWindow(dayBehind, 0, SKEW).end).toBe(T0 + 600_000 - 86_400_000 + SKEW);
  });
});

describe('restoreCopies', () => {
  const ledger = {
    files: [{ path: 'change.txt', fileId: 'file_current' }],
    pendingDeletes: [{ fileId: 'file_pending' }],
    inFlight: [{ resolvedFileId: 'file_landed' }],
    unclaimed: ['file_recorded'],
  };
  const planned = {
    adoptions: [{ file: { id: 'file_adopted' } }],
    deletes: [{ fileId: 'file_orphan' }],
    unclaimed: [{ fileId: 'file_ambiguous' }],
  };
  const inside = T0 + 120_000;

  it('leaves out every id the ledger or the plan accounts for, and lists the rest', () => {
    const ids = [
      'file_current',
      'file_pending',
      'file_landed',
      'file_recorded',
      'file_adopted',
      'file_orphan',
      'file_ambiguous',
      'file_new',
    ];
    const found = restoreCopies(
      window,
      ids.map((id) => file(id, 'change.txt', inside)),
      ledger,
      planned,
      { localPaths: [], remoteName, serverOffsetMs: 60_000, skewMs: SKEW },
    );
    expect(found.map((c) => c.fileId)).toEqual(['file_new']);
    expect(found[0]!.path).toBe('change.txt'); // a ledger path: the walk here saw nothing
  });

  it('matches the local walk’s paths as well as the ledger’s', () => {
    const found = restoreCopies(window, [file('f1', 'late.txt', inside)], ledger, planned, {
      localPaths: ['late.txt'],
      remoteName,
      serverOffsetMs: 60_000,
      skewMs: SKEW,
    });
    expect(found.map((c) => c.path)).toEqual(['late.txt']);
  });
});

describe('parseRestoreWindow', () => {
  it('reads an open window and rejects a closed or malformed one', () => {
    expect(parseRestoreWindow(window)).toEqual(window);
    expect(parseRestoreWindow(null)).toBeUndefined();
    expect(parseRestoreWindow(undefined)).toBeUndefined();
    expect(parseRestoreWindow({ takenAt: 'x', restoredAt: 1 })).toBeUndefined();
    expect(parseRestoreWindow({ takenAt: 1, restoredAt: 2 })).toEqual({
      backup: '',
      takenAt: 1,
      restoredAt: 2,
      clockOffsetMs: null,
    });
  });
});

describe('chooseRemoteMode with a restore window open', () => {
  it('lists the whole workspace even where look-ups would cost less', () => {
    const input = {
      canLookup: true,
      owned: 300,
      seen: { total: 20_300, foreign: 20_000, listedAt: 0 },
      now: 3_600_000,
      fullListHours: 24,
    };
    expect(chooseRemoteMode(input).mode).toBe('owned');
    expect(chooseRemoteMode({ ...input, forceFull: 'the ledger was restored' })).toEqual({
      mode: 'full',
      reason: 'the ledger was restored',
    });
  });
});
