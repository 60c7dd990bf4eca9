// The ledger verbs per-job work uses instead of reading the whole failures table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';

let dir: string;
let ledger: Ledger;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-ledger-failures-'));
  ledger = Ledger.open(path.join(dir, 'ledger.db'));
});
afterEach(() => {
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("ledger: one path's failure and the retry schedule", () => {
  it('reads one failure row, the earliest retry after a time, and the paths due by a time', () => {
    const t = 1_000_000;
    ledger.recordFailure('a.txt', 'too large', 'on-change', { size: 1, mtimeMs: 1 }, t);
    ledger.recordFailure('b.txt', 'HTTP 500', 'backoff', { size: 1, mtimeMs: 1 }, t);
    ledger.recordFailure('c.txt', 'HTTP 500', 'backoff', { size: 1, mtimeMs: 1 }, t + 60_000);
    expect(ledger.failure('b.txt')).toEqual(ledger.failures().find((f) => f.path === 'b.txt'));
    expect(ledger.failure('a.txt')?.retryable).toBe(false);
    expect(ledger.failure('nothing.txt')).toBeUndefined();
    const b = ledger.failure('b.txt')!.nextRetryAt!;
    const c = ledger.failure('c.txt')!.nextRetryAt!;
    expect(ledger.nextRetryAfter(t)).toBe(b);
    expect(ledger.nextRetryAfter(b)).toBe(c);
    expect(ledger.nextRetryAfter(c)).toBeNull();
    expect(ledger.retriesDueBy(b)).toEqual(['b.txt']);
    expect(ledger.retriesDueBy(c).sort()).toEqual(['b.txt', 'c.txt']);
  });
});
