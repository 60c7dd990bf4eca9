// A state directory on a full disk: its marker and lock cannot be made. The message says so (not
// "make it writable"), a one-shot run exits 6, and the daemon says so once and waits to start again (a unit
// restarting a start that fails fast would give up within minutes). And on a read-only disk the
// read-only commands (`status`, `ls`, `resolve`, `ledger check`) read a private copy of the ledger. Needs file systems to fill and to remount: small tmpfs mounts, where mounting one
// is allowed (root); skipped elsewhere.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY, emulator, runCli, spawnCli, tempDir, waitFor } from '../helpers/sync.js';

const dir = tempDir('fs-full-');
const disk = path.join(dir, 'disk');

/** Mounts a tmpfs of `size` at `at`; false where that is not allowed. */
function mountTmpfs(at: string, size: string): boolean {
  fs.mkdirSync(at, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]).status === 0;
}
// Whether mounting is allowed here, probed without leaving a mount behind: the mounts themselves
// are made in each describe's beforeAll, so a run that filters their tests out makes none.
const mounted =
  process.getuid?.() === 0 && mountTmpfs(path.join(dir, 'probe'), '4k') && spawnSync('umount', [path.join(dir, 'probe')]).status === 0;

fs.mkdirSync(path.join(dir, 'root'));
fs.writeFileSync(path.join(dir, 'root', 'a.txt'), 'a');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Fills the disk of `at` with the file `at/fill` until it is full (ENOSPC). */
function fillUp(at: string): void {
  const fill = fs.openSync(path.join(at, 'fill'), 'w');
  try {
    for (;;) fs.writeSync(fill, Buffer.alloc(4096));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fill);
  }
}

describe.skipIf(!mounted)('a state directory on a full disk (a 1 MiB tmpfs, filled)', () => {
  beforeAll(() => {
    expect(mountTmpfs(disk, '1m')).toBe(true);
    fs.mkdirSync(path.join(disk, 'state'), { mode: 0o700 });
    fillUp(disk);
  });
  afterAll(() => {
    spawnSync('umount', [disk]);
  });
  // No request is made: the state directory's marker and lock come first. The URL is a closed
  // loopback port all the same.
  const env = { ANTHROPIC_API_KEY: 'sk-emulator-local', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' };
  const args = ['--root', path.join(dir, 'root'), '--state-dir', path.join(disk, 'state')];

  it('a one-shot sync says the disk is full and exits 6', async () => {
    const result = await runCli(['sync', ...args], env);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/cannot write in the state directory .*: its disk is full .*free space there/);
    expect(result.stderr).not.toMatch(/make it writable/);
  });

  it('the daemon says so once and waits to start again (its unit would give up on a start that fails fast), and starts once there is room', async () => {
    const { child, done } = spawnCli(['daemon', ...args], env);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => /cannot start: .*its disk is full.*trying again with back-off/.test(stderr), 'the daemon to say it waits', 15_000);
    await new Promise((r) => setTimeout(r, 6_000)); // longer than a stopped daemon's forced exit
    expect(child.exitCode).toBeNull();
    // `systemctl reload` and the "reconcile now" signal during the wait do not kill it.
    child.kill('SIGHUP');
    child.kill('SIGUSR1'); // ends the wait: it tries again, fails again, and waits again
    await waitFor(() => /SIGHUP: the config is read again/.test(stderr), 'the SIGHUP noted', 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(child.exitCode).toBeNull();
    expect(stderr.match(/cannot start/g)).toHaveLength(1);
    // Room again: the next attempt (SIGUSR1 asks it now, rather than at the end of the wait) starts.
    fs.rmSync(path.join(disk, 'fill'));
    child.kill('SIGUSR1');
    child.kill('SIGHUP'); // lands while it starts again: neither a wait's nor the daemon's yet, and harmless
    await waitFor(() => /started \(pid \d+\)/.test(stderr), 'the daemon to start', 15_000);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
  });
});

describe.skipIf(!mounted)('a state directory on a read-only disk', () => {
  const ro = path.join(dir, 'ro');
  let remounted = false;
  let stateFiles: string[] = [];
  let copiesBefore: string[] = [];
  beforeAll(async () => {
    if (!mountTmpfs(ro, '4m')) return;
    fs.mkdirSync(path.join(ro, 'state'), { mode: 0o700 });
    const emu = await emulator();
    try {
      const env = { ANTHROPIC_API_KEY: TEST_KEY, ANTHROPIC_BASE_URL: emu.url };
      const first = await runCli(['sync', '--root', path.join(dir, 'root'), '--state-dir', path.join(ro, 'state')], env);
      expect(first.code, first.stderr).toBe(0);
    } finally {
      await emu.close();
    }
    // A damaged ledger beside it, on the same disk.
    fs.mkdirSync(path.join(ro, 'damaged'), { mode: 0o700 });
    fs.writeFileSync(path.join(ro, 'damaged', 'ledger.db'), Buffer.alloc(8192, 7), { mode: 0o600 });
    remounted = spawnSync('mount', ['-o', 'remount,ro', ro]).status === 0;
    stateFiles = fs.readdirSync(path.join(ro, 'state')).sort();
    copiesBefore = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('files-sync-ledger-'));
  });
  afterAll(() => {
    spawnSync('umount', [ro]);
  });

  const args = ['--state-dir', path.join(ro, 'state'), '--root', path.join(dir, 'root')];
  const copyNote = /files-sync: the disk of .*state is read-only: reading a copy of the ledger, as of its last write/;

  it('ledger check checks the ledger (a copy: SQLite cannot open it there), and does not call a sound one damaged', async (ctx) => {
    if (!remounted) ctx.skip();
    const result = await runCli(['ledger', 'check', ...args], {});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ok: the ledger .*ledger\.db passed SQLite's integrity check \(1 files tracked\)$/m);
    expect(result.stderr).toMatch(copyNote);
    expect(result.stdout + result.stderr).not.toMatch(/damaged|move it aside/);
  });

  it('status, ls and resolve read it too (the disk is when an operator needs them); sync and the daemon say it is read-only', async (ctx) => {
    if (!remounted) ctx.skip();
    const status = await runCli(['status', ...args], {});
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^state: up to date$/m);
    expect(status.stderr).toMatch(copyNote);
    const ls = await runCli(['ls', '--json', ...args], {});
    expect(ls.code, ls.stderr).toBe(0);
    const rows = JSON.parse(ls.stdout) as { path: string; file_id: string }[];
    expect(rows.map((r) => r.path)).toEqual(['a.txt']);
    const resolve = await runCli(['resolve', 'a.txt', ...args], {});
    expect(resolve.code, resolve.stderr).toBe(0);
    expect(resolve.stdout.trim()).toBe(rows[0]!.file_id);
    // The commands that write it say why they cannot (exit 6: not a config error).
    for (const command of ['sync', 'daemon']) {
      const refused = await runCli([command, ...args], {
        ANTHROPIC_API_KEY: 'sk-emulator-local',
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      });
      expect(refused.code, command).toBe(6);
      expect(refused.stderr).toMatch(/cannot write the state directory .*: its disk is mounted read-only .*remount it read-write/);
      expect(refused.stderr).not.toMatch(/make it writable for this user/);
    }
    // No copy to read (the temp directory read-only too): the ledger's own failure, said of it.
    const noCopy = await runCli(['status', ...args], { TMPDIR: path.join(ro, 'state') });
    expect(noCopy.code).toBe(6);
    expect(noCopy.stderr).toMatch(/the ledger .*state\/ledger\.db .*no copy to read either \(EROFS/);
    // A damaged ledger is said to be damaged, by its own path, not the copy's.
    const damaged = await runCli(['ledger', 'check', '--state-dir', path.join(ro, 'damaged'), '--root', path.join(dir, 'root')], {});
    expect(damaged.code).toBe(6);
    expect(damaged.stdout + damaged.stderr).toMatch(new RegExp(`the ledger ${path.join(ro, 'damaged', 'ledger.db')} is damaged`));
    expect(damaged.stdout + damaged.stderr).not.toMatch(/files-sync-ledger-/);
    // Nothing was written there, and the copies are gone with the commands.
    expect(fs.readdirSync(path.join(ro, 'state')).sort()).toEqual(stateFiles);
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('files-sync-ledger-'))).toEqual(copiesBefore);
  });
});

// A review's finding: a running daemon whose state disk fills logs "the ledger cannot be written"
// once, and `status` said "syncing", "API: ok" and nothing of the ledger until a reconciliation
// went through after space came back.
describe.skipIf(!mounted)("a running daemon's state disk fills up (a 3 MiB tmpfs)", () => {
  const full = path.join(dir, 'full3');
  afterAll(() => {
    spawnSync('umount', [full]);
  });

  it('status names the ledger that cannot be written while it lasts, and not after', async () => {
    expect(mountTmpfs(full, '3m')).toBe(true);
    const emu = await emulator();
    const root = path.join(dir, 'root3');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'a.txt'), 'a');
    const args = ['--root', root, '--state-dir', path.join(full, 'state')];
    const env = { ANTHROPIC_API_KEY: TEST_KEY, ANTHROPIC_BASE_URL: emu.url, FILES_SYNC_TEST_RECONCILE_SECONDS: '2' };
    const { child, done } = spawnCli(['daemon', ...args], env);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor(() => /initial reconciliation done/.test(stderr), 'the daemon to start', 20_000);
      fillUp(full);
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(root, `new-${i}.txt`), `new ${i} `.repeat(200));
      await waitFor(() => /disk is full/.test(stderr), 'the daemon to say the ledger cannot be written', 30_000);
      const status = await runCli(['status', ...args], env);
      expect(status.stdout).toMatch(
        /^ {2}ledger: the ledger .* cannot be written: the disk is full .*a running daemon tries again by itself\)$/m,
      );
      const json = JSON.parse((await runCli(['status', '--json', ...args], env)).stdout) as {
        daemon: { live: { ledgerProblem: string | null } };
      };
      expect(json.daemon.live.ledgerProblem).toMatch(/disk is full/);

      fs.rmSync(path.join(full, 'fill'));
      child.kill('SIGUSR1'); // reconcile now, rather than after the back-off
      await waitFor(() => /the ledger is writable again/.test(stderr), 'the ledger to be writable again', 60_000);
      const after = await runCli(['status', ...args], env);
      expect(after.stdout).not.toMatch(/cannot be written/);
    } finally {
      child.kill('SIGTERM');
      await done;
      await emu.close();
    }
  }, 120_000);
});
