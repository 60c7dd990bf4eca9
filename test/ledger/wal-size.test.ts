// The ledger's WAL goes back to a small size once checkpointed (journal_size_limit): a checkpoint
// comes only every ~40 MB of WAL (open.ts), and without the limit the file kept its largest size
// for good, so a daemon's state directory held ~40 MB of WAL beside a 1 MB ledger.
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { tempDir } from '../helpers/sync.js';

let dir: string;
let ledger: Ledger;
beforeEach(() => {
  dir = tempDir('fs-wal-');
  ledger = Ledger.open(path.join(dir, 'ledger.db'));
});
afterEach(() => {
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('a WAL grown past 4 MB is cut back once checkpointed', () => {
  const db = (ledger as unknown as { db: Database.Database }).db;
  const wal = path.join(dir, 'ledger.db-wal');
  const big = 'x'.repeat(64 * 1024);
  ledger.transaction(() => {
    for (let i = 0; i < 200; i++) ledger.setMeta(`filler-${i}`, big); // ~13 MB of pages
  });
  expect(fs.statSync(wal).size).toBeGreaterThan(12 * 1024 * 1024);
  db.pragma('wal_checkpoint(PASSIVE)'); // what the automatic checkpoint does
  ledger.setMeta('after', 'a write restarts the WAL from its start');
  expect(fs.statSync(wal).size).toBeLessThanOrEqual(4 * 1024 * 1024);
});
