// `files-sync adopt` through the built command and in process: the one-to-one edges, a dry run that
// writes nothing, files never synced (over the size limit) never adopted, and a file that changed
// between the scan and its hash left alone. Real folders, real SQLite, the emulator over HTTP.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientFor } from '../../src/app.js';
import { runAdopt } from '../../src/commands/adopt.js';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { acquireLock } from '../../src/lock.js';
import { createLogger } from '../../src/log.js';
import { TEST_KEY, emulator, runCli, sha256, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

/** Every row of every table of a ledger file, as text: what "writes nothing" compares. */
function dump(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    return JSON.stringify(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY 1`).all()]));
  } finally {
    db.close();
  }
}

describe('files-sync adopt', () => {
  let emu: Emulator;
  let setup: SyncSetup | undefined;
  beforeAll(async () => {
    emu = await emulator();
  });
  afterAll(async () => emu.close());
  afterEach(() => setup?.cleanup());

  /** A copy made a minute after its file last changed (the file's ctime is now), on the API's clock. */
  const seed = (filename: string, content: string) => {
    emu.setClockOffset(60_000);
    try {
      return emu.seed({ filename, content_base64: Buffer.from(content).toString('base64'), owner: 'someone' }).id;
    } finally {
      emu.setClockOffset(0);
    }
  };
  const ledgerFile = () => path.join(setup!.stateDir, 'ledger.db');
  const adopt = (...extra: string[]) => runCli(['adopt', '--config', setup!.configFile, ...extra], setup!.env);

  it('takes one-to-one matches only; ambiguity, known paths and owned ids adopt nothing; --dry-run writes nothing', async () => {
    // Names by base name: two paths share one remote name. Contents carry the test's tag (sizes too).
    setup = syncSetup(emu, { remoteNames: 'basename' });
    const files = {
      'u1-edges.txt': 'unique 1',
      'two-edges.txt': 'two 22',
      'p/same-edges.txt': 'same 333',
      'q/same-edges.txt': 'same 444',
      'known-edges.txt': 'known 5555',
      'pend-edges.txt': 'pending 66666',
    };
    writeTree(setup.root, files);
    const unique = seed('u1-edges.txt', files['u1-edges.txt']);
    seed('two-edges.txt', files['two-edges.txt']);
    seed('two-edges.txt', files['two-edges.txt']);
    seed('same-edges.txt', files['p/same-edges.txt']);
    seed('known-edges.txt', files['known-edges.txt']);
    const pendingId = seed('pend-edges.txt', files['pend-edges.txt']);
    // A ledger that knows one path (with another id) and waits to delete the id pend-edges.txt would match.
    const ledger = Ledger.open(ledgerFile());
    const known = {
      path: 'known-edges.txt',
      size: 10,
      mtimeMs: 1,
      ino: 1,
      sha256: 'a'.repeat(64),
      mimeType: 'text/plain',
      remoteName: 'x',
    };
    ledger.finishUpload(null, known, { id: 'file_known_elsewhere', created_at: '2026-01-01T00:00:00Z' }, 0, 1);
    ledger.addPendingDeletes([{ fileId: pendingId, path: 'old', reason: 'replaced' }], 1);
    ledger.close();
    const before = dump(ledgerFile());

    const dry = await adopt('--dry-run');
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.stdout.split('\n').filter((l) => /^(would adopt|ambiguous) /.test(l))).toEqual([
      `would adopt  ${unique}  u1-edges.txt`,
      expect.stringMatching(/^ambiguous {2}p\/same-edges\.txt: /),
      expect.stringMatching(/^ambiguous {2}q\/same-edges\.txt: /),
      expect.stringMatching(/^ambiguous {2}two-edges\.txt: /),
    ]);
    expect(dry.stdout).toMatch(/dry run: would adopt 1 file, 3 ambiguous; run files-sync adopt to take them over/);
    expect(dump(ledgerFile())).toBe(before);

    const real = await adopt();
    expect(real.code, real.stderr).toBe(1);
    expect(real.stdout).toContain(`adopted  ${unique}  u1-edges.txt`);
    expect(real.stdout).toMatch(/^adopted 1 file, 3 ambiguous$/m);
    const after = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      expect(after.files().map((r) => [r.path, r.fileId])).toEqual([
        ['known-edges.txt', 'file_known_elsewhere'],
        ['u1-edges.txt', unique],
      ]);
      expect(after.fileByPath('u1-edges.txt')).toMatchObject({
        sha256: sha256(files['u1-edges.txt']),
        size: 8,
        remoteName: 'u1-edges.txt',
      });
      expect(after.pendingDeletes().map((d) => d.fileId)).toEqual([pendingId]);
    } finally {
      after.close();
    }
    // Once taken, the path is known: a second run takes nothing more.
    const again = await adopt();
    expect(again.stdout).toMatch(/^adopted 0 files, 3 ambiguous$/m);
  });

  it('a file over maxFileBytes is never synced, so never adopted', async () => {
    setup = syncSetup(emu, { maxFileBytes: 16 });
    writeTree(setup.root, { 'big-limit.bin': 'x'.repeat(40), 'small-limit.txt': 'small' });
    seed('big-limit.bin', 'x'.repeat(40));
    const small = seed('small-limit.txt', 'small');
    const run = await adopt();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/big-limit/);
    expect(run.stdout).toMatch(/^adopted 1 file$/m);
    const after = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      expect(after.files().map((r) => [r.path, r.fileId])).toEqual([['small-limit.txt', small]]);
    } finally {
      after.close();
    }
  });

  it('rule 9: a FIFO, a symlink and a name that is not valid UTF-8 are skipped, never adopted', async () => {
    setup = syncSetup(emu);
    writeTree(setup.root, { 'ok-r9.txt': 'ok r9', 'target-r9.txt': 'linked r9' });
    execFileSync('mkfifo', [path.join(setup.root, 'fifo-r9.txt')]);
    fs.symlinkSync('target-r9.txt', path.join(setup.root, 'link-r9.txt'));
    // The bytes f, 0xff, -r9.txt: Node names it with U+FFFD, a name that cannot be opened.
    fs.writeFileSync(Buffer.concat([Buffer.from(`${setup.root}/bad`), Buffer.from([0xff]), Buffer.from('-r9.txt')]), 'bad r9');
    const ok = seed('ok-r9.txt', 'ok r9');
    seed('link-r9.txt', 'linked r9');
    seed('fifo-r9.txt', 'f');
    seed('bad\ufffd-r9.txt', 'bad r9');
    const run = await adopt();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n').filter((l) => l !== '')).toEqual([`adopted  ${ok}  ok-r9.txt`, 'adopted 1 file']);
  });

  it('a folder the walk cannot read stops the adoption: a path in it could make a match ambiguous', async () => {
    setup = syncSetup(emu, { remoteNames: 'basename' });
    writeTree(setup.root, { 'seen/doc-part.txt': 'same size' });
    // A folder named with the byte 0xff cannot be listed by the name Node gives it (even as root):
    // the walk is partial, and its file of the same base name and size stays unseen.
    const unseen = Buffer.concat([Buffer.from(`${setup.root}/dir`), Buffer.from([0xff])]);
    fs.mkdirSync(unseen);
    fs.writeFileSync(Buffer.concat([unseen, Buffer.from('/doc-part.txt')]), 'same size');
    seed('doc-part.txt', 'same size');
    const run = await adopt();
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/some folders could not be read: nothing adopted/);
    expect(run.stdout).not.toMatch(/^adopted {2}/m);
    expect(run.stderr).toMatch(/cannot read/); // the walk names the folder
    const after = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      expect(after.files()).toEqual([]);
    } finally {
      after.close();
    }
  });

  it('a file reached through a followed symlink is hashed where the walk found it', async () => {
    setup = syncSetup(emu, { followSymlinks: true });
    writeTree(setup.root, { 'real-fl/f-fl.txt': 'followed' });
    fs.symlinkSync('real-fl', path.join(setup.root, 'ln-fl'));
    const viaLink = seed('ln-fl∕f-fl.txt', 'followed');
    const run = await adopt();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`adopted  ${viaLink}  ln-fl/f-fl.txt`);
    const after = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      expect(after.fileByPath('ln-fl/f-fl.txt')).toMatchObject({ fileId: viaLink, sha256: sha256('followed') });
    } finally {
      after.close();
    }
  });

  it('a file that changed between the scan and its hash is reported and not adopted', async () => {
    setup = syncSetup(emu);
    const files = { 'fine-chg.txt': 'fine', 'grow-chg.txt': 'grow', 'touch-chg.txt': 'touch', 'swap-chg.txt': 'swap' };
    writeTree(setup.root, files);
    const ids = Object.fromEntries(Object.entries(files).map(([p, c]) => [p, seed(p, c)]));
    const config = loadConfig({ configPath: setup.configFile }, setup.env);
    const ledger = Ledger.open(ledgerFile());
    const logger = createLogger({ level: 'error' });
    const client = clientFor(config, TEST_KEY, logger);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    let lines: string[];
    try {
      code = await runAdopt({
        config,
        ledger,
        remote: client,
        logger,
        dryRun: false,
        afterScan: async () => {
          const at = (p: string) => path.join(setup!.root, p);
          fs.appendFileSync(at('grow-chg.txt'), '!');
          const later = new Date(Date.now() + 5000);
          fs.utimesSync(at('touch-chg.txt'), later, later);
          // Same name, same size, another inode: another file.
          fs.writeFileSync(at('swap-new'), 'SWAP');
          fs.renameSync(at('swap-new'), at('swap-chg.txt'));
          await Promise.resolve();
        },
      });
    } finally {
      lines = out.mock.calls.map((c) => String(c[0]).trimEnd());
      out.mockRestore();
      await client.close();
    }
    try {
      expect(code).toBe(1);
      expect(lines).toContain(`adopted  ${ids['fine-chg.txt']}  fine-chg.txt`);
      for (const p of ['grow-chg.txt', 'touch-chg.txt', 'swap-chg.txt'])
        expect(lines).toContain(`not adopted  ${ids[p]}  ${p}: it changed since the scan; run files-sync adopt again`);
      expect(lines).toContain('adopted 1 file, 3 not adopted');
      expect(ledger.files().map((r) => [r.path, r.fileId, r.sha256])).toEqual([['fine-chg.txt', ids['fine-chg.txt'], sha256('fine')]]);
    } finally {
      ledger.close();
    }
  });
  it('a file changed after its copy was made is adopted to be sent again: the next sync replaces the copy', async () => {
    setup = syncSetup(emu);
    writeTree(setup.root, { 'older-stale.txt': 'same as its copy', 'newer-stale.txt': 'version 2' });
    const older = seed('older-stale.txt', 'same as its copy');
    const stale = seed('newer-stale.txt', 'version 1'); // the copy holds the content before the change
    const at = (p: string) => path.join(setup!.root, p);
    const hourAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(at('older-stale.txt'), hourAgo, hourAgo);
    const later = new Date(Date.now() + 600_000); // changed after the copy was made (same size)
    fs.utimesSync(at('newer-stale.txt'), later, later);

    const run = await adopt();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`adopted  ${older}  older-stale.txt`);
    expect(run.stdout).toContain(
      `adopted  ${stale}  newer-stale.txt: changed since that copy was made; the next sync sends it again and deletes the copy`,
    );
    const ledger = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      expect(ledger.fileByPath('older-stale.txt')?.sha256).toBe(sha256('same as its copy'));
      expect(ledger.fileByPath('newer-stale.txt')?.sha256).not.toBe(sha256('version 2'));
    } finally {
      ledger.close();
    }

    const sync = await setup.sync(['--json']);
    expect(sync.code, sync.stderr).toBe(0);
    const ids = new Map(emu.state().files.map((f) => [f.id, f]));
    expect(ids.has(stale)).toBe(false); // replaced, then deleted (rule 2)
    expect(ids.has(older)).toBe(true);
    const mapped = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      const row = mapped.fileByPath('newer-stale.txt')!;
      expect(ids.get(row.fileId)?.sha256).toBe(sha256('version 2'));
      expect(mapped.fileByPath('older-stale.txt')?.fileId).toBe(older);
    } finally {
      mapped.close();
    }
  });

  it('a root that is not the folder the ledger knows (its marker missing) adopts nothing; a dry run still shows what would be taken', async () => {
    setup = syncSetup(emu, { rootMarker: '.mounted' });
    writeTree(setup.root, { '.mounted': '', 'kept-mark.txt': 'kept' });
    expect((await setup.sync()).code).toBe(0);
    // The state directory lost its rows (a restored old backup, say); then the disk is not mounted:
    // an empty mount point with a look-alike file of the same name and size.
    const db = new Database(ledgerFile());
    db.prepare('DELETE FROM files').run();
    db.close();
    fs.rmSync(path.join(setup.root, '.mounted'));
    fs.writeFileSync(path.join(setup.root, 'kept-mark.txt'), 'KEPT');
    const before = dump(ledgerFile());

    const real = await adopt();
    expect(real.code, real.stdout).toBe(3);
    expect(real.stderr).toMatch(/the root marker \.mounted is missing from .*: nothing adopted/);
    expect(dump(ledgerFile())).toBe(before);
    const dry = await adopt('--dry-run');
    expect(dry.code).toBe(3);
    expect(dry.stdout).toMatch(/^would adopt {2}file_\S+ {2}kept-mark\.txt/m);
    expect(dry.stdout).toMatch(/the root marker \.mounted is missing/);
  });

  it("--dry-run writes nothing, so it runs beside the ledger's writer (a daemon or a sync holding the lock)", async () => {
    setup = syncSetup(emu);
    writeTree(setup.root, { 'beside-lock.txt': 'beside the lock' });
    const id = seed('beside-lock.txt', 'beside the lock');
    expect((await setup.sync()).code).toBe(0); // the ledger exists, and knows the file
    fs.writeFileSync(path.join(setup.root, 'beside-lock2.txt'), 'beside the lock 2');
    const id2 = seed('beside-lock2.txt', 'beside the lock 2');
    const lock = acquireLock(setup.stateDir, 'sync');
    try {
      const dry = await adopt('--dry-run');
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`would adopt  ${id2}  beside-lock2.txt`);
      expect(dry.stdout).not.toContain(id);
      const real = await adopt();
      expect(real.code).toBe(2); // the writer holds the ledger
    } finally {
      lock.release();
    }
    // The daemon cannot adopt for it: the refusal says what to do.
    const daemonLock = acquireLock(setup.stateDir, 'daemon');
    try {
      const real = await adopt();
      expect(real.code).toBe(2);
      expect(real.stderr).toMatch(
        /the daemon \(pid \d+\) owns the ledger: stop it \(systemctl stop files-sync\), run files-sync adopt, then start it again/,
      );
    } finally {
      daemonLock.release();
    }
    // The holder file is a hint: one a killed daemon left, naming a live pid, refuses nothing.
    fs.writeFileSync(path.join(setup.stateDir, 'lock'), JSON.stringify({ pid: process.pid, holder: 'daemon' }), { mode: 0o600 });
    const after = await adopt();
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain(`adopted  ${id2}  beside-lock2.txt`);
  });
});
