// The executor's grouped records of finished uploads: one transaction per group, each write alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
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
  const later = new DeferredWrites(ledger, { maxPending: 3 });
  for (const p of ['a', 'b']) later.add(() => void ledger.beginUpload(intent(p)));
  expect(ledger.inFlight()).toEqual([]);
  later.add(() => void ledger.beginUpload(intent('c')));
  expect(ledger.inFlight().map((r) => r.path)).toEqual(['a', 'b', 'c']);
  // One group transaction and a savepoint per write.
  expect(transactions.mock.calls.length).toBe(1 + 3);
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
