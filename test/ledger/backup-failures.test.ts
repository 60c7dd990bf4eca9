// A backup that cannot be made or pruned is logged, and never fails the run that asked for it (an
// unwritable backups/ folder used to make every sync exit 2 with a stack trace, and the daemon
// retry its first reconciliation for ever). Root reads and writes past modes, so the failures are
// made of what no one can remove: a folder where a file is expected.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { backupLedger, timestamp } from '../../src/ledger/backup.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { memoryLogger } from '../../src/log.js';
import { tempDir } from '../helpers/sync.js';

let dir: string;
let ledger: Ledger;
beforeEach(() => {
  dir = tempDir('fs-backup-fail-');
  ledger = Ledger.open(path.join(dir, 'ledger.db'));
});
afterEach(() => {
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const NOW = new Date('2026-12-01T01:00:00Z');

it('a backup whose file cannot be written nor its leftover removed is logged, and the run goes on', async () => {
  // Where the partial copy goes, a folder that is not empty: neither written nor removed.
  const partial = path.join(dir, 'backups', `ledger-${timestamp(NOW)}.db.partial`);
  fs.mkdirSync(path.join(partial, 'inside'), { recursive: true });
  const { logger, lines } = memoryLogger('warn');
  await expect(backupLedger(ledger, logger, { now: NOW })).resolves.toBeNull();
  expect(lines.join('\n')).toMatch(/could not back up the ledger to .*backups: .*EISDIR/);
  expect(lines.join('\n')).toMatch(/could not remove the partial backup .*\.partial/);
});

it('old backups that cannot be pruned are logged; the new backup stands', async () => {
  const backups = path.join(dir, 'backups');
  fs.mkdirSync(path.join(backups, 'ledger-2020-01-01T00-00-00-000Z.db', 'inside'), { recursive: true });
  const { logger, lines } = memoryLogger('warn');
  const made = await backupLedger(ledger, logger, { now: NOW, keep: 1 });
  expect(made).toBe(path.join(backups, `ledger-${timestamp(NOW)}.db`));
  expect(fs.existsSync(made!)).toBe(true);
  expect(lines.join('\n')).toMatch(/could not remove the old backup .*ledger-2020-01-01T00-00-00-000Z\.db/);
});
