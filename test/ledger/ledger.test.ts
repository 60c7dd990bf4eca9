// The ledger against a real SQLite file: migrations, the replace transaction, in-flight rows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger, LedgerError, failureBackoffMs } from '../../src/ledger/ledger.js';
import { MIGRATIONS } from '../../src/ledger/schema.js';
import type { FileMetadata } from '../../src/remote/types.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-ledger-'));
  file = path.join(dir, 'state', 'ledger.db');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const meta = (id: string): FileMetadata => ({
  id,
  type: 'file',
  filename: 'a.txt',
  mime_type: 'text/plain',
  size_bytes: 3,
  created_at: '2026-11-01T00:00:00.000000Z',
});
const content = {
  path: 'a.txt',
  size: 3,
  mtimeMs: 1,
  ino: 2,
  sha256: 'h1',
  mimeType: 'text/plain',
  remoteName: 'a.txt',
};

describe('Ledger', () => {
  it('creates the schema at the latest version, in WAL mode, and reopens it', () => {
    const ledger = Ledger.open(file);
    ledger.setMeta('k', 'v');
    ledger.close();
    ledger.close(); // safe twice
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const again = Ledger.open(file);
    expect(again.getMeta('k')).toBe('v');
    again.close();
  });

  it('refuses a ledger from a newer files-sync', () => {
    Ledger.open(file).close();
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => Ledger.open(file)).toThrow(LedgerError);
    expect(() => Ledger.open(file)).toThrow(/upgrade files-sync/);
  });

  it('read-only open needs an existing ledger and says what to do', () => {
    expect(() => Ledger.open(file, { readOnly: true })).toThrow(/run files-sync sync/);
  });

  it('replaces in one transaction: new id in files, old id pending, in-flight row gone', () => {
    const ledger = Ledger.open(file);
    const first = ledger.beginUpload({ ...content, startedAt: 1 });
    expect(ledger.finishUpload(first, content, meta('file_1'), 0, 10)).toEqual({ replaced: null });
    const second = ledger.beginUpload({ ...content, sha256: 'h2', startedAt: 2 });
    expect(ledger.finishUpload(second, { ...content, sha256: 'h2' }, meta('file_2'), 0, 20)).toEqual({
      replaced: 'file_1',
    });
    expect(ledger.fileByPath('a.txt')?.fileId).toBe('file_2');
    expect(ledger.pendingDeletes().map((p) => [p.fileId, p.reason])).toEqual([['file_1', 'replaced']]);
    expect(ledger.inFlight()).toEqual([]);
    ledger.deleteDone('file_1');
    expect(ledger.pendingDeletes()).toEqual([]);
    ledger.close();
  });

  it('keeps an in-flight row as a sweep marker when answers were lost', () => {
    const ledger = Ledger.open(file);
    const id = ledger.beginUpload({ ...content, startedAt: 1 });
    ledger.finishUpload(id, content, meta('file_1'), 2, 10);
    expect(ledger.inFlight()).toEqual([expect.objectContaining({ id, unknownOutcomes: 2, resolvedFileId: 'file_1' })]);
    const failed = ledger.beginUpload({ ...content, startedAt: 3 });
    ledger.abandonUpload(failed, 0);
    const lost = ledger.beginUpload({ ...content, startedAt: 4 });
    ledger.abandonUpload(lost, 1);
    expect(ledger.inFlight().map((r) => r.id)).toEqual([id, lost]);
    ledger.settleInFlight(id);
    expect(ledger.inFlight().map((r) => r.id)).toEqual([lost]);
    ledger.close();
  });

  it('a local delete moves the id to pending deletes and forgets the path', () => {
    const ledger = Ledger.open(file);
    ledger.finishUpload(null, content, meta('file_1'), 0, 10);
    ledger.recordFailure('a.txt', 'x', 'backoff', null, 10);
    expect(ledger.markDeleted('a.txt', 20)).toBe('file_1');
    expect(ledger.fileByPath('a.txt')).toBeUndefined();
    expect(ledger.failures()).toEqual([]);
    expect(ledger.pendingDeletes()).toEqual([expect.objectContaining({ fileId: 'file_1', reason: 'deleted', path: 'a.txt' })]);
    expect(ledger.markDeleted('a.txt', 30)).toBeNull();
    ledger.close();
  });

  it('counts the files it tracks, with and without their bytes', () => {
    const ledger = Ledger.open(file);
    expect(ledger.fileCount()).toBe(0);
    expect(ledger.counts()).toEqual({ files: 0, bytes: 0 });
    ledger.finishUpload(null, content, meta('file_1'), 0, 10);
    ledger.finishUpload(null, { ...content, path: 'b.txt', size: 5 }, meta('file_2'), 0, 10);
    expect(ledger.fileCount()).toBe(2);
    expect(ledger.counts()).toEqual({ files: 2, bytes: 8 });
    ledger.markDeleted('a.txt', 20);
    expect(ledger.fileCount()).toBe(1);
    expect(ledger.counts()).toEqual({ files: 1, bytes: 5 });
    ledger.close();
  });

  it('records failures with growing back-off, or none when only a change can help', () => {
    const ledger = Ledger.open(file);
    const a = ledger.recordFailure('a.txt', 'server error', 'backoff', { size: 1, mtimeMs: 2 }, 1000);
    const b = ledger.recordFailure('a.txt', 'server error', 'backoff', { size: 1, mtimeMs: 2 }, 1000);
    expect(b.attempts).toBe(2);
    expect(b.nextRetryAt! - 1000).toBeGreaterThan(a.nextRetryAt! - 1000);
    const c = ledger.recordFailure('b.txt', 'bad name', 'on-change', null, 1000);
    expect(c.nextRetryAt).toBeNull();
    expect(ledger.failures().map((f) => [f.path, f.retryable])).toEqual([
      ['a.txt', true],
      ['b.txt', false],
    ]);
    ledger.close();
  });

  it('an outage holds nothing at its first failure in a row, backs off from the second, and a success forgets it', () => {
    const ledger = Ledger.open(file);
    const stat = { size: 1, mtimeMs: 2 };
    const first = ledger.recordFailure('a.txt', 'remote unavailable', 'outage', stat, 1000);
    expect(first).toMatchObject({ retryable: true, attempts: 1, nextRetryAt: null });
    expect(ledger.retriesDueBy(Number.MAX_SAFE_INTEGER)).toEqual([]); // nothing for the retry timer: the API's recovery runs it
    const second = ledger.recordFailure('a.txt', 'remote unavailable', 'outage', stat, 5000);
    expect(second).toMatchObject({ attempts: 2, nextRetryAt: 5000 + failureBackoffMs(1) });
    // After a failure of the file's own, an outage backs off too.
    ledger.recordFailure('b.txt', 'HTTP 400', 'backoff', stat, 1000);
    expect(ledger.recordFailure('b.txt', 'remote unavailable', 'outage', stat, 2000).nextRetryAt).toBe(2000 + failureBackoffMs(1));
    ledger.finishUpload(null, content, meta('file_1'), 0, 9000);
    expect(ledger.failures().map((f) => f.path)).toEqual(['b.txt']);
    ledger.close();
  });

  it('lists rows under a directory without its look-alike siblings', () => {
    const ledger = Ledger.open(file);
    for (const [p, id] of [
      ['d/a', 'f1'],
      ['d/e/b', 'f2'],
      ['d0', 'f3'],
      ['d.txt', 'f4'],
      ['dd/c', 'f5'],
    ] as const) {
      ledger.finishUpload(null, { ...content, path: p }, meta(id), 0, 1);
    }
    expect(ledger.filesUnder('d').map((r) => r.path)).toEqual(['d/a', 'd/e/b']);
    ledger.close();
  });

  it("returns the rows uploaded since a time, whatever the stamp's precision or offset", () => {
    const ledger = Ledger.open(file);
    const stamps: [string, string][] = [
      ['old', '2026-11-01T11:59:59.999999Z'],
      ['exact', '2026-11-01T12:00:00.000000Z'],
      ['seconds', '2026-11-01T12:00:00Z'], // sorts before '.000000Z' as text, equal in time
      ['later', '2026-11-01T12:00:00.500Z'],
      ['offset', '2026-11-01T02:30:00-10:00'], // 12:30 UTC, earlier as text
      ['offset-old', '2026-11-02T01:00:00+14:00'], // 11:00 UTC, later as text
    ];
    for (const [p, at] of stamps) ledger.finishUpload(null, { ...content, path: p }, { ...meta(`f-${p}`), created_at: at }, 0, 1);
    const since = Date.parse('2026-11-01T12:00:00.000Z');
    expect(ledger.filesUploadedSince(since).map((r) => r.path)).toEqual(['exact', 'later', 'offset', 'seconds']);
    ledger.close();
  });

  it('survives a process killed mid-write: committed rows stay, the file opens', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `
      const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new Database(${JSON.stringify(file)});
      db.pragma('journal_mode = WAL');
      db.exec("CREATE TABLE IF NOT EXISTS t (x)");
      db.prepare('INSERT INTO t VALUES (1)').run();
      db.exec('BEGIN IMMEDIATE'); db.prepare('INSERT INTO t VALUES (2)').run();
      process.kill(process.pid, 'SIGKILL');`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    try {
      execFileSync(process.execPath, ['-e', script], { stdio: 'ignore' });
    } catch {
      // killed, as intended
    }
    const db = new Database(file);
    expect(db.prepare('SELECT x FROM t').all()).toEqual([{ x: 1 }]);
    db.close();
  });
});
