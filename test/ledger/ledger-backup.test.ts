// Ledger backups and `files-sync ledger restore`: made after each successful sync, rotated, refused
// beside a daemon, and a restored ledger converges without touching foreign files.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, startDaemon, tearDown } from '../helpers/daemon.js';
import { emulator, expectExactState, localHashes, runCli, sha256, syncSetup, tempDir, writeTree, type SyncSetup } from '../helpers/sync.js';
import { damageLedger } from '../helpers/ledger.js';
import { BACKUP_TAKEN_META_KEY, RESTORE_WINDOW_META_KEY, backupLedger, restoreLedger } from '../../src/ledger/backup.js';
import { listBackups } from '../../src/ledger/faults.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { ConfigError } from '../../src/errors.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

const backupsOf = (s: SyncSetup) => {
  const dir = path.join(s.stateDir, 'backups');
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.db')) // not the -wal and -shm files a read-only open of one leaves
        .sort()
        .map((n) => path.join(dir, n))
    : [];
};

const tree = (n: number, tag = ''): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`dir${i % 7}/file-${i}.txt`, `content ${i}${tag}`]));

async function ls(s: SyncSetup): Promise<{ path: string; file_id: string }[]> {
  const result = await runCli(['ls', '--json', '--config', s.configFile], s.env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { path: string; file_id: string }[];
}

/** Every local file has a remote copy with its content, mapped by `ls`; every foreign file is still there. */
async function expectMappedAndForeignKept(e: Emulator, s: SyncSetup, foreign: { id: string; sha256: string }[]): Promise<void> {
  const remote = new Map(e.state().files.map((f) => [f.id, f]));
  const mapped = new Map((await ls(s)).map((r) => [r.path, r.file_id]));
  for (const [rel, hash] of localHashes(s.root)) {
    expect(mapped.has(rel), `${rel} is mapped by ls`).toBe(true);
    expect(remote.get(mapped.get(rel)!)?.sha256, `${rel}'s mapped copy`).toBe(hash);
  }
  for (const f of foreign) expect(remote.get(f.id)?.sha256, `foreign ${f.id} untouched`).toBe(f.sha256);
}

async function statusJson(s: SyncSetup): Promise<{ unclaimedCopies: { id: string; path: string; reason: string }[] }> {
  const status = await runCli(['status', '--json', '--config', s.configFile], s.env);
  expect(status.code, status.stderr).toBe(0);
  return JSON.parse(status.stdout) as { unclaimedCopies: { id: string; path: string; reason: string }[] };
}

/** Remote filenames with more than one copy of ours. */
function duplicates(e: Emulator): string[] {
  const counts = new Map<string, number>();
  for (const f of e.state().files.filter((f) => f.owner === 'self')) counts.set(f.filename, (counts.get(f.filename) ?? 0) + 1);
  return [...counts]
    .filter(([, n]) => n > 1)
    .map(([name]) => name)
    .sort();
}

describe('ledger backups', () => {
  it('are made after each successful sync (mode 0600, sound), and only the newest 3 are kept', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    writeTree(setup.root, tree(5));
    const made: string[] = [];
    for (let round = 0; round < 4; round++) {
      writeTree(setup.root, { 'changing.txt': `round ${round}` });
      const result = await setup.sync();
      expect(result.code, result.stderr).toBe(0);
      made.push(backupsOf(setup).at(-1)!);
    }
    const kept = backupsOf(setup);
    expect(
      kept.every((f) => /ledger-\d{4}-\d\d-\d\dT[\d-]+Z\.db$/.test(f)),
      kept.join(),
    ).toBe(true);
    expect(kept).toEqual(made.slice(1)); // the oldest went
    for (const file of kept) {
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const db = new Database(file, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((db.prepare('SELECT count(*) AS n FROM files').get() as { n: number }).n).toBe(6);
      db.close();
    }
  });
});

describe('backups after the clock was set back', () => {
  it('a new backup comes last and is kept, though the clock reads earlier than the newest name', async () => {
    const dir = tempDir('fs-backup-clock-');
    try {
      const file = path.join(dir, 'ledger.db');
      const ledger = Ledger.open(file);
      const ahead = new Date(Date.parse('2027-06-01T00:00:00Z'));
      const made = [];
      for (let i = 0; i < 3; i++) made.push((await backupLedger(ledger, silentLogger(), { now: new Date(ahead.getTime() + i * 1000) }))!);
      // The clock set right: a year earlier than the three names.
      const now = (await backupLedger(ledger, silentLogger(), { now: new Date(Date.parse('2026-06-01T00:00:00Z')) }))!;
      ledger.close();
      const kept = listBackups(file);
      expect(kept).toHaveLength(3);
      expect(kept.at(-1)).toBe(now); // the newest, which a restore picks
      expect(kept).toEqual([...made.slice(1), now]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('files-sync ledger restore', () => {
  it('records the restore window in the restored ledger: from when the backup was taken (its stamp, else its name) to the restore', async () => {
    const dir = tempDir('fs-restore-window-');
    try {
      const file = path.join(dir, 'ledger.db');
      const live = Ledger.open(file);
      const backup = (await backupLedger(live, silentLogger(), { clockOffsetMs: 42_000 }))!;
      live.close();
      expect(fs.readdirSync(path.dirname(backup))).toEqual([path.basename(backup)]); // no WAL or partial left
      const copy = Ledger.open(backup, { readOnly: true });
      const taken = copy.getMetaJson<{ at: number; clockOffsetMs: number }>(BACKUP_TAKEN_META_KEY)!;
      copy.close();
      expect(taken.clockOffsetMs).toBe(42_000);
      expect(Math.abs(taken.at - Date.now())).toBeLessThan(60_000);

      const restoredAt = new Date(taken.at + 3_600_000);
      const result = restoreLedger(file, backup, restoredAt);
      expect(result.window).toEqual({
        backup,
        takenAt: taken.at,
        restoredAt: restoredAt.getTime(),
        clockOffsetMs: 42_000,
      });
      const restored = Ledger.open(file, { readOnly: true });
      expect(restored.getMetaJson(RESTORE_WINDOW_META_KEY)).toEqual(result.window);
      expect(restored.getMetaJson(BACKUP_TAKEN_META_KEY)).toBeNull(); // the stamp described the backup, not the live ledger
      restored.close();

      // A backup without a stamp (made by an older files-sync): the time in its name.
      const unstamped = path.join(dir, 'ledger-2026-01-02T03-04-05-678Z.db');
      fs.copyFileSync(file, unstamped);
      const again = restoreLedger(file, unstamped, new Date(Date.parse('2026-01-03T00:00:00Z')));
      expect(again.window).toMatchObject({ takenAt: Date.parse('2026-01-02T03:04:05.678Z'), clockOffsetMs: null });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a restore that fails before its last step leaves the old ledger in place, whole', async () => {
    const dir = tempDir('fs-restore-crash-');
    try {
      const file = path.join(dir, 'ledger.db');
      const live = Ledger.open(file);
      const backup = (await backupLedger(live, silentLogger()))!;
      live.finishUpload(
        null,
        { path: 'after.txt', size: 1, mtimeMs: 1, ino: 1, sha256: 'a'.repeat(64), mimeType: 'text/plain', remoteName: 'after.txt' },
        { id: 'file_after', created_at: '2026-01-01T00:00:00Z' },
        0,
        1,
      );
      live.close();
      // The switch to the restored copy fails as a crash there would leave things.
      const rename = fs.renameSync;
      const spy = vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
        if (String(from).endsWith('.restoring')) throw new Error('crash before the switch');
        rename(from, to);
      });
      try {
        expect(() => restoreLedger(file, backup)).toThrow(/crash before the switch/);
      } finally {
        spy.mockRestore();
      }
      // The old ledger is where it was, whole (its WAL back beside it), and no half-kept copy is left.
      // (A crash, which runs no cleanup, leaves the old ledger there as of its last checkpoint, and
      // whole under the kept name: never no ledger.)
      expect(fs.existsSync(file)).toBe(true);
      const left = Ledger.open(file, { readOnly: true });
      expect(left.fileByPath('after.txt')?.fileId).toBe('file_after');
      left.close();
      expect(fs.readdirSync(dir).filter((n) => n.includes('.damaged-'))).toEqual([]);
      // Run again, the restore completes.
      expect(restoreLedger(file, backup).files).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a ledger backup (an empty file, another file, the live ledger) and changes nothing', async () => {
    const dir = tempDir('fs-restore-notledger-');
    try {
      const file = path.join(dir, 'ledger.db');
      const live = Ledger.open(file);
      live.finishUpload(
        null,
        { path: 'kept.txt', size: 1, mtimeMs: 1, ino: 1, sha256: 'a'.repeat(64), mimeType: 'text/plain', remoteName: 'kept.txt' },
        { id: 'file_kept', created_at: '2026-01-01T00:00:00Z' },
        0,
        1,
      );
      live.close();
      const empty = path.join(dir, 'empty.db');
      fs.writeFileSync(empty, '');
      const text = path.join(dir, 'notes.txt');
      fs.writeFileSync(text, 'not a database at all, but long enough to have a header'.repeat(20));
      const emptySchema = path.join(dir, 'other.db');
      new Database(emptySchema).exec('CREATE TABLE t (x)').close();
      for (const [from, why] of [
        [empty, /is not a files-sync ledger \(no ledger schema in it\)/],
        [text, /is not a files-sync ledger \(file is not a database\)/],
        [emptySchema, /is not a files-sync ledger \(no ledger schema in it\)/],
        [file, /is the ledger in use, not a backup/],
      ] as const) {
        expect(() => restoreLedger(file, from), from).toThrow(why);
        expect(() => restoreLedger(file, from)).toThrow(ConfigError);
      }
      // A backup damaged past its header is a damaged backup (exit 6), said in one line.
      const live2 = Ledger.open(file);
      const damagedBackup = (await backupLedger(live2, silentLogger()))!;
      live2.close();
      const fd = fs.openSync(damagedBackup, 'r+');
      fs.writeSync(fd, Buffer.alloc(12, 0xff), 0, 12, 100);
      fs.closeSync(fd);
      expect(() => restoreLedger(file, damagedBackup)).toThrow(expect.objectContaining({ kind: 'corrupt' }));
      expect(() => restoreLedger(file, damagedBackup)).toThrow(/the backup .* is damaged too .*nothing was changed/);
      const left = Ledger.open(file, { readOnly: true });
      expect(left.fileByPath('kept.txt')?.fileId).toBe('file_kept');
      left.close();
      expect(fs.readdirSync(dir).filter((n) => n.includes('.damaged-') || n.includes('.restoring'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused while a daemon runs, and changes nothing', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a' });
    const daemon = await startDaemon(setup);
    expect(backupsOf(setup)).toHaveLength(1); // the daemon's first reconciliation made one
    const before = fs.readdirSync(setup.stateDir).sort();
    const result = await runCli(['ledger', 'restore', '--config', setup.configFile], setup.env);
    expect(result.stderr).toMatch(/cannot restore the ledger while another files-sync \(daemon, pid \d+\) is using .*: stop it first/);
    expect(result.code).toBe(2);
    expect(fs.readdirSync(setup.stateDir).sort()).toEqual(before);
    expect((await daemon.stop()).code).toBe(0);
  });

  it('puts the newest backup back after damage; the next sync converges exactly, foreign files untouched', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    // Foreign files: one whose name and content collide with a synced file, one unrelated.
    const foreign = [
      ['dir0∕file-0.txt', 'content 0'],
      ['elsewhere.txt', 'not ours'],
    ].map(([filename, content]) => ({
      id: emu!.seed({ filename: filename!, content_base64: Buffer.from(content!).toString('base64') }).id,
      sha256: sha256(content!),
    }));
    writeTree(setup.root, tree(300));
    expect((await setup.sync()).code).toBe(0);
    const ledgerFile = path.join(setup.stateDir, 'ledger.db');
    damageLedger(ledgerFile);
    const failed = await setup.sync();
    expect(failed.code).toBe(6);
    expect(failed.stderr).toContain(path.basename(backupsOf(setup).at(-1)!)); // the message names the newest backup

    const restored = await runCli(['ledger', 'restore', '--config', setup.configFile], setup.env);
    expect(restored.stdout).toMatch(/restored the ledger .* \(300 files tracked\)/);
    expect(restored.code, restored.stderr).toBe(0);
    const aside = fs.readdirSync(setup.stateDir).filter((n) => n.startsWith('ledger.db.damaged-'));
    expect(aside).toHaveLength(1);
    expect(fs.existsSync(`${ledgerFile}-shm`)).toBe(false);

    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(
      emu,
      setup,
      localHashes(setup.root),
      foreign.map((f) => f.id),
    );
    await expectMappedAndForeignKept(emu, setup, foreign);
  });

  it('an older backup: the copies uploaded after it was taken are listed as unclaimed copies and go only by forget-copies; an older foreign file of the same name is never listed or touched', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { requestsPerMinute: 100_000 });
    // A foreign file with the same name and content as a path uploaded after the backup, made
    // before the backup was taken: it is outside the restore window and must never be listed.
    const seeded = emu.seed({ filename: 'late.txt', content_base64: Buffer.from('late').toString('base64') });
    const foreign = [{ id: seeded.id, sha256: sha256('late') }];
    // From here the server's clock runs a minute ahead of this host's: the window is placed on the
    // server's clock by the measured offset (on the local clock it would miss the later copies).
    emu.advanceClock(60_000);
    writeTree(setup.root, { ...tree(20), 'change.txt': 'v1', 'gone.txt': 'gone' });
    expect((await setup.sync()).code).toBe(0);
    const older = backupsOf(setup).at(-1)!;
    // Changes after that backup: a new file (same name and content as the foreign one), a changed one, a deleted one.
    writeTree(setup.root, { 'late.txt': 'late', 'change.txt': 'v2' });
    fs.rmSync(path.join(setup.root, 'gone.txt'));
    expect((await setup.sync()).code).toBe(0);
    // The copies uploaded after the backup: the restored ledger cannot know them.
    const later = (await ls(setup))
      .filter((r) => r.path === 'change.txt' || r.path === 'late.txt')
      .map((r) => r.file_id)
      .sort();
    expect(later).toHaveLength(2);

    const restored = await runCli(['ledger', 'restore', path.basename(older), '--config', setup.configFile], setup.env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/copies uploaded after the backup was taken .*files-sync status.*forget-copies/s);
    // A dry run first: it writes nothing (it used to try to record the copies, and fail with exit 6),
    // nor does it forget a recorded copy that is gone (one the backup knew, deleted since).
    const db = new Database(path.join(setup.stateDir, 'ledger.db'));
    db.prepare(
      "INSERT INTO unclaimed_copies (file_id, path, remote_name, size, sha256, created_at, reason, recorded_at) VALUES ('file_goneSince', 'late.txt', 'late.txt', 4, 'abc', '2026-01-01T00:00:00Z', 'test', 0)",
    ).run();
    db.close();
    const dry = await setup.sync(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect((await statusJson(setup)).unclaimedCopies.map((c) => c.id)).toEqual(['file_goneSince']);
    // It says what the real run will record, as the real run does.
    for (const id of later) expect(dry.stderr).toContain(id);
    expect(dry.stderr).toMatch(/a remote copy may or may not be ours: left alone/);
    for (let run = 0; run < 2; run++) {
      const result = await setup.sync();
      expect(result.code, result.stderr).toBe(0);
      await expectMappedAndForeignKept(emu, setup, foreign);
      // Rule 1: the API cannot tell who uploaded them, so they are not deleted; rule 3: not silent either.
      const unclaimed = (await statusJson(setup)).unclaimedCopies;
      expect(unclaimed.map((c) => c.id).sort(), `run ${run}`).toEqual(later);
      for (const c of unclaimed) expect(c.reason).toMatch(/uploaded after the restored backup was taken/);
      // The window closed with the first reconciliation that succeeded, and no backup carries it.
      for (const db of [path.join(setup.stateDir, 'ledger.db'), backupsOf(setup).at(-1)!]) {
        const ledger = Ledger.open(db, { readOnly: true });
        expect(ledger.getMetaJson(RESTORE_WINDOW_META_KEY), db).toBeNull();
        ledger.close();
      }
    }
    expect(duplicates(emu)).toEqual(['change.txt', 'late.txt']);

    const forgot = await runCli(['forget-copies', '--config', setup.configFile, ...later], setup.env);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect((await statusJson(setup)).unclaimedCopies).toEqual([]);
    expectExactState(emu, setup, localHashes(setup.root), [seeded.id]);
    expect(emu.state().files.find((f) => f.id === seeded.id)?.sha256).toBe(sha256('late'));
  });
});
