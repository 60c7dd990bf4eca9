// Ledger faults (DESIGN.md rule 6): a damaged, read-only, vanished or busy ledger is classified
// once; the fatal ones stop `sync` and the daemon with exit 6 and one line, and `ledger check` says so.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { classifySqliteError, LedgerError } from '../../src/ledger/faults.js';
import { passesAtStart } from '../../src/daemon/faults.js';
import { LockedError } from '../../src/lock.js';
import { ExitCode, SyncError } from '../../src/errors.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { backupLedger } from '../../src/ledger/backup.js';
import { silentLogger } from '../../src/log.js';
import { daemonSetup, killDaemons, startDaemon } from '../helpers/daemon.js';
import { damageLedger, fillLedger } from '../helpers/ledger.js';
import { emulator, runCli, syncSetup, tempDir, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
let dir: string | undefined;
const immutable: string[] = [];
afterEach(async () => {
  await killDaemons();
  for (const file of immutable.splice(0)) execFileSync('chattr', ['-i', file]);
  setup?.cleanup();
  await emu?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  emu = setup = dir = undefined;
});

function expectOneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/unexpected error/);
  return lines[0]!;
}

describe('ledger faults: classification', () => {
  it('maps SQLite result codes to kinds, fatal or to be retried', () => {
    const cases: [string, string, boolean][] = [
      ['SQLITE_CORRUPT', 'corrupt', true],
      ['SQLITE_CORRUPT_INDEX', 'corrupt', true],
      ['SQLITE_NOTADB', 'corrupt', true],
      ['SQLITE_READONLY', 'readonly', true],
      ['SQLITE_READONLY_DBMOVED', 'vanished', true],
      ['SQLITE_IOERR_SHORT_READ', 'io', true],
      ['SQLITE_IOERR', 'io', true],
      ['SQLITE_FULL', 'full', false],
      ['SQLITE_IOERR_SHMSIZE', 'full', false],
      ['SQLITE_BUSY', 'busy', false],
      ['SQLITE_LOCKED_SHAREDCACHE', 'busy', false],
    ];
    for (const [code, kind, fatal] of cases) {
      const err = classifySqliteError(new Database.SqliteError('boom', code), '/x/ledger.db');
      expect(err, code).toBeInstanceOf(LedgerError);
      expect([err!.kind, err!.fatal, err!.exitCode], code).toEqual([kind, fatal, 6]);
      expect(err!.message).toContain('/x/ledger.db');
      expect(err!.cause).toBeInstanceOf(Database.SqliteError);
    }
    // A full disk's advice holds for a one-shot run too, which exits (6) rather than retry.
    expect(classifySqliteError(new Database.SqliteError('boom', 'SQLITE_FULL'), '/x/ledger.db')!.message).toMatch(
      /the disk is full \(boom\); free some space, then run files-sync again \(a running daemon tries again by itself\)$/,
    );
    // With no backup left, a restore is not the advice: adopt is (a backup there: restore it).
    const noBackup = classifySqliteError(new Database.SqliteError('boom', 'SQLITE_CORRUPT'), '/nonexistent/state/ledger.db')!;
    expect(noBackup.message).toMatch(
      /move it aside, then run `files-sync adopt` .*no backup is left in \/nonexistent\/state\/backups\) and sync$/,
    );
    expect(noBackup.message).not.toMatch(/ledger restore|none made yet/);
    // A mistake in a statement is no fault of the file: it stays what it is.
    expect(classifySqliteError(new Database.SqliteError('no such column', 'SQLITE_ERROR'), '/x/ledger.db')).toBeNull();
    expect(classifySqliteError(new TypeError('x'), '/x/ledger.db')).toBeNull();
  });

  it('a damaged ledger: every verb that reads the damage raises a fatal LedgerError naming the file and the newest backup', () => {
    dir = tempDir('fs-ledger-faults-');
    const file = path.join(dir, 'ledger.db');
    fillLedger(file);
    fs.mkdirSync(path.join(dir, 'backups'));
    fs.writeFileSync(path.join(dir, 'backups', 'ledger-2026-01-01T00-00-00-000Z.db'), '');
    fs.writeFileSync(path.join(dir, 'backups', 'ledger-2026-02-01T00-00-00-000Z.db'), '');
    damageLedger(file);
    const ledger = Ledger.open(file);
    try {
      let caught: unknown;
      try {
        ledger.files();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(LedgerError);
      const err = caught as LedgerError;
      expect(err.kind).toBe('corrupt');
      expect(err.message).toMatch(/the ledger .*ledger\.db is damaged \(database disk image is malformed\)/);
      expect(err.message).toContain('files-sync ledger restore');
      expect(err.message).toContain('ledger-2026-02-01T00-00-00-000Z.db');
    } finally {
      ledger.close();
    }
  });

  it('a ledger deleted or replaced under an open connection is "vanished" at the next write', () => {
    dir = tempDir('fs-ledger-faults-');
    const file = path.join(dir, 'ledger.db');
    // The path is checked at most once a second, on the monotonic clock (a wall clock set back
    // must not skip the checks), and that whatever the wall clock says.
    vi.useFakeTimers({ toFake: ['performance', 'Date'] });
    const ledger = Ledger.open(file);
    try {
      ledger.setMeta('k', 'v');
      fs.renameSync(file, `${file}.moved`);
      fs.writeFileSync(file, '');
      // SQLite itself writes on into the moved file without a word.
      vi.setSystemTime(Date.now() - 86_400_000);
      vi.advanceTimersByTime(1500);
      expect(() => ledger.setMeta('k', 'w')).toThrow(expect.objectContaining({ kind: 'vanished', fatal: true }));
      expect(() => ledger.setMeta('k', 'w')).toThrow(/deleted or replaced while files-sync was using it/);
    } finally {
      vi.useRealTimers();
      ledger.close();
    }
  });

  it('a busy ledger (another connection holds the write lock) is retried, not fatal', () => {
    dir = tempDir('fs-ledger-faults-');
    const file = path.join(dir, 'ledger.db');
    const ledger = Ledger.open(file);
    const other = new Database(file);
    try {
      other.exec('BEGIN EXCLUSIVE');
      expect(() => ledger.setMeta('k', 'v')).toThrow(expect.objectContaining({ kind: 'busy', fatal: false }));
      other.exec('ROLLBACK');
      ledger.setMeta('k', 'v');
      expect(ledger.getMeta('k')).toBe('v');
    } finally {
      other.close();
      ledger.close();
    }
  }, 30_000);
});

describe('ledger faults: the program stops with exit 6 and one line', () => {
  it('one-shot sync on a ledger with two damaged pages', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
    fillLedger(path.join(setup.stateDir, 'ledger.db'));
    damageLedger(path.join(setup.stateDir, 'ledger.db'));
    const result = await setup.sync();
    const line = expectOneLine(result.stderr);
    // No backup was made yet: the advice is adopt, not a restore with nothing to put back.
    expect(line).toMatch(
      /the ledger .*ledger\.db is damaged \(database disk image is malformed\); move it aside, then run `files-sync adopt`/,
    );
    expect(result.code).toBe(6);
  });

  it('one-shot sync on a damaged ledger that has a backup: the advice is to restore it', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
    const file = path.join(setup.stateDir, 'ledger.db');
    fillLedger(file);
    const ledger = Ledger.open(file);
    expect(await backupLedger(ledger, silentLogger())).not.toBeNull();
    ledger.close();
    damageLedger(file);
    const result = await setup.sync();
    expect(expectOneLine(result.stderr)).toMatch(
      /is damaged \(.*\); run `files-sync ledger restore` to put back the newest backup \(.*backups\/ledger-.*\.db\)/,
    );
    expect(result.code).toBe(6);
  });

  it('the daemon on a damaged ledger exits 6 after one log line, and does not retry', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
    fillLedger(path.join(setup.stateDir, 'ledger.db'));
    damageLedger(path.join(setup.stateDir, 'ledger.db'));
    const daemon = await startDaemon(setup, { ready: false });
    const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 40_000).unref());
    const result = await Promise.race([daemon.done, timeout]);
    expect(result, `the daemon is still running:\n${daemon.lines().join('\n')}`).not.toBeNull();
    expect(result!.code).toBe(6);
    expect(daemon.count(/is damaged/)).toBe(1);
    expect(daemon.count(/trying again|retrying|initial reconciliation done/)).toBe(0);
    expect(result!.stderr).not.toMatch(/^\s+at /m);
  });

  it('a ledger the service cannot write', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
    const file = path.join(setup.stateDir, 'ledger.db');
    fillLedger(file, 10);
    if (process.getuid?.() === 0) {
      // root writes through any mode: the immutable attribute is what stops it.
      execFileSync('chattr', ['+i', file]);
      immutable.push(file);
    } else {
      fs.chmodSync(file, 0o444);
    }
    const result = await setup.sync();
    const line = expectOneLine(result.stderr);
    expect(line).toMatch(/the ledger .*ledger\.db cannot be written/);
    expect(result.code).toBe(6);
  });
});

describe('files-sync ledger check', () => {
  it('says ok on a good ledger and lists the problems of a damaged one', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    const file = path.join(setup.stateDir, 'ledger.db');
    fillLedger(file);
    const good = await runCli(['ledger', 'check', '--config', setup.configFile], setup.env);
    expect(good.stdout).toMatch(/ok/);
    expect(good.code).toBe(0);
    damageLedger(file);
    const bad = await runCli(['ledger', 'check', '--config', setup.configFile], setup.env);
    expect(bad.stdout + bad.stderr).toMatch(/damaged/);
    expect(bad.stderr).not.toMatch(/^\s+at /m);
    expect(bad.code).toBe(6);
  });
});

describe('files-sync ledger check, of a state directory whose name holds control characters', () => {
  it('prints the name escaped, as every other command does (rule 9)', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    const stateDir = path.join(setup.dir, 'state\n<0>FORGED\u001b[2J');
    fillLedger(path.join(stateDir, 'ledger.db'));
    const result = await runCli(['ledger', 'check', '--config', setup.configFile, '--state-dir', stateDir], setup.env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('state\\n\\u003c0>FORGED\\u001b[2J');
    expect(result.stdout).not.toMatch(/\u001b|\n<0>/);
  });
});

describe("the daemon's start on a passing trouble", () => {
  it('a full disk or a busy ledger passes (the daemon waits and starts again); a damaged ledger and other errors do not', () => {
    expect(passesAtStart(new LedgerError('full', 'full'))).toBe(true);
    expect(passesAtStart(new LedgerError('busy', 'busy'))).toBe(true);
    const sqliteFull = new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    expect(passesAtStart(new SyncError('cannot create the lock', ExitCode.ledger, { cause: sqliteFull }))).toBe(true);
    const enospc = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    expect(passesAtStart(new SyncError('cannot create the state directory', ExitCode.ledger, { cause: enospc }))).toBe(true);
    expect(passesAtStart(new LedgerError('damaged', 'corrupt'))).toBe(false);
    expect(passesAtStart(new SyncError('bad config', ExitCode.usage))).toBe(false);
    expect(passesAtStart(undefined)).toBe(false);
    // The state held by a command that ends (a scheduled sync) passes; by another daemon, not.
    expect(passesAtStart(new LockedError(123, 'sync', '/state'))).toBe(true);
    expect(passesAtStart(new LockedError(null, 'another process', '/state'))).toBe(true);
    expect(passesAtStart(new LockedError(123, 'daemon', '/state'))).toBe(false);
  });
});
