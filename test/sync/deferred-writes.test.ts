// The executor's grouped records of finished uploads: one transaction per group, each write alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { Ledger, LedgerError } from '../../src/ledger/ledger.js';
import { DeferredWrites } from '../../src/sync/deferred.js';

let dir: string;
let ledger: Ledger;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'files-sync-deferred-'));
  ledger = Ledger.open(join(dir, 'ledger.db'));
});
afterEach(() => {
  vi.useRealTimers();
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

const intent = (path: string) => ({
  path,
  remoteName: path,
  size: 1,
  sha256: 'a'.repeat(64),
  mimeType: 'text/plain',
  startedAt: 1,
});

it('commits a group in one transaction, when full or at flush', () => {
  const transactions = vi.spyOn(ledger, 'transaction');
  const groups = vi.spyOn(ledger, 'allOrNothing');
  const later = new DeferredWrites(ledger, { maxPending: 3 });
  for (const p of ['a', 'b']) later.add(() => void ledger.beginUpload(intent(p)));
  expect(ledger.inFlight()).toEqual([]);
  later.add(() => void ledger.beginUpload(intent('c')));
  expect(ledger.inFlight().map((r) => r.path)).toEqual(['a', 'b', 'c']);
  // One group transaction, and no savepoint per write when none throws.
  expect(groups).toHaveBeenCalledTimes(1);
  expect(transactions).not.toHaveBeenCalled();
  later.add(() => void ledger.beginUpload(intent('d')));
  later.flush();
  expect(ledger.inFlight().map((r) => r.path)).toEqual(['a', 'b', 'c', 'd']);
});

it('commits on its own after maxDelayMs', async () => {
  vi.useFakeTimers();
  const later = new DeferredWrites(ledger, { maxDelayMs: 20 });
  later.add(() => void ledger.beginUpload(intent('a')));
  expect(ledger.inFlight()).toEqual([]);
  await vi.advanceTimersByTimeAsync(25);
  expect(ledger.inFlight().map((r) => r.path)).toEqual(['a']);
});

it('a write that throws is rolled back alone; flush throws its error once', () => {
  const later = new DeferredWrites(ledger);
  later.add(() => void ledger.beginUpload(intent('kept')));
  later.add(() => {
    ledger.beginUpload(intent('rolled back'));
    throw new Error('boom');
  });
  later.add(() => void ledger.beginUpload(intent('kept too')));
  expect(() => later.flush()).toThrow('boom');
  expect(ledger.inFlight().map((r) => r.path)).toEqual(['kept', 'kept too']);
  expect(() => later.flush()).not.toThrow();
});

const uploaded = (path: string) => ({
  path,
  size: 1,
  mtimeMs: 1,
  ino: 1,
  sha256: 'a'.repeat(64),
  mimeType: 'text/plain',
  remoteName: path,
});
const file = (id: string): Parameters<Ledger['finishUpload']>[2] => ({ id, created_at: '2026-01-01T00:00:00Z' });

it('a finishUpload that fails half-way leaves none of its rows; the rest of its group commits', () => {
  ledger.finishUpload(null, uploaded('a'), file('file_a'), 0, 1);
  // file_b waits in pending_deletes; a record that claims it for a path, then fails, must leave it there.
  ledger.addPendingDeletes([{ fileId: 'file_a', path: null, reason: 'orphan' }], 1);
  const later = new DeferredWrites(ledger);
  later.add(() => void ledger.finishUpload(null, uploaded('b'), file('file_b'), 0, 2));
  // removePending('file_a') runs, then the upsert breaks files.file_id's uniqueness (it is 'a's id).
  later.add(() => void ledger.finishUpload(null, uploaded('c'), file('file_a'), 0, 2));
  later.add(() => void ledger.finishUpload(null, uploaded('d'), file('file_d'), 0, 2));
  expect(() => later.flush()).toThrow(/UNIQUE/);
  expect(ledger.files().map((r) => [r.path, r.fileId])).toEqual([
    ['a', 'file_a'],
    ['b', 'file_b'],
    ['d', 'file_d'],
  ]);
  expect(ledger.pendingDeletes().map((d) => d.fileId)).toEqual(['file_a']);
});

it('inside allOrNothing a verb opens no savepoint: a later throw rolls back the verbs that returned', () => {
  expect(() =>
    ledger.allOrNothing(() => {
      ledger.finishUpload(null, uploaded('a'), file('file_a'), 0, 1);
      ledger.beginUpload(intent('b'));
      throw new Error('boom');
    }),
  ).toThrow('boom');
  expect(ledger.files()).toEqual([]);
  expect(ledger.inFlight()).toEqual([]);
  ledger.allOrNothing(() => {
    ledger.finishUpload(null, uploaded('a'), file('file_a'), 0, 1);
    // An explicit transaction inside still is a savepoint of its own.
    expect(() =>
      ledger.transaction(() => {
        ledger.beginUpload(intent('x'));
        throw new Error('inner');
      }),
    ).toThrow('inner');
  });
  expect(ledger.files().map((r) => r.path)).toEqual(['a']);
  expect(ledger.inFlight()).toEqual([]);
});

it('a ledger fault in a group is not run again: flush throws it once and the listener hears it once', () => {
  const heard: LedgerError[] = [];
  ledger.onFault((err) => heard.push(err));
  const later = new DeferredWrites(ledger);
  let runs = 0;
  later.add(() => void ledger.beginUpload(intent('a')));
  later.add(() => {
    runs++;
    throw new LedgerError('the disk is full', 'full');
  });
  expect(() => later.flush()).toThrow('the disk is full');
  expect(runs).toBe(1);
  expect(heard).toHaveLength(1);
  // The whole group is rolled back: what it recorded waits for rule 3 (its intents are committed).
  expect(ledger.inFlight()).toEqual([]);
});
