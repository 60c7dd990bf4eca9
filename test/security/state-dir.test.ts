// The state directory and ledger are the program's own (DESIGN.md rule 9, issue 8 item 6c):
// created 0700 / 0600 whatever the umask, and refused, with the command to run, when another
// user owns them or group or others can write them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, runCli, syncSetup, type SyncSetup } from '../helpers/sync.js';

const mode = (file: string) => fs.statSync(file).mode & 0o777;

let emu: Emulator;
let setup: SyncSetup;
beforeAll(async () => {
  emu = await emulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  setup?.cleanup();
  setup = syncSetup(emu);
  fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
});

describe('the state directory and ledger', () => {
  it('are created 0700 and 0600 (the WAL files too) under umask 022', async () => {
    const old = process.umask(0o022); // the child inherits it
    try {
      const result = await setup.sync();
      expect(result.code, result.stderr).toBe(0);
    } finally {
      process.umask(old);
    }
    expect(mode(setup.stateDir)).toBe(0o700);
    const ledgerFiles = fs.readdirSync(setup.stateDir).filter((f) => f.startsWith('ledger.db'));
    expect(ledgerFiles).toContain('ledger.db');
    for (const file of ledgerFiles) expect(mode(path.join(setup.stateDir, file)), file).toBe(0o600);
  });

  it('refuses a group-writable state directory, giving the chmod to run', async () => {
    fs.mkdirSync(setup.stateDir);
    fs.chmodSync(setup.stateDir, 0o770);
    const before = emu.state().files.length;
    const result = await setup.sync();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`chmod 700 ${setup.stateDir}`);
    expect(fs.existsSync(path.join(setup.stateDir, 'ledger.db'))).toBe(false);
    expect(emu.state().files.length).toBe(before);
  });

  it('refuses a ledger others can write, giving the chmod to run', async () => {
    expect((await setup.sync()).code).toBe(0);
    const ledger = path.join(setup.stateDir, 'ledger.db');
    fs.chmodSync(ledger, 0o666);
    const result = await setup.sync();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`chmod 600 ${ledger}`);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "root may read a service user's state but not write it: told to run as that user, and nothing left behind that they could not open",
    async () => {
      expect((await setup.sync()).code).toBe(0); // a ledger and a backup to restore
      for (const name of ['', ...fs.readdirSync(setup.stateDir, { recursive: true, encoding: 'utf8' })])
        fs.chownSync(path.join(setup.stateDir, name), 65534, 65534);
      const owners = () =>
        fs
          .readdirSync(setup.stateDir, { recursive: true, encoding: 'utf8' })
          .map((name) => fs.statSync(path.join(setup.stateDir, name)).uid);
      fs.rmSync(path.join(setup.stateDir, 'lock.db')); // as before the service's first start: the lock would be made anew
      for (const args of [['sync'], ['ledger', 'restore']]) {
        const result = await runCli([...args, '--config', setup.configFile], setup.env);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr).toMatch(/belongs to uid 65534 .*run files-sync as that user, as in sudo -u '#65534' files-sync/);
        expect(result.stderr).not.toMatch(/chown/);
        expect(new Set(owners())).toEqual(new Set([65534]));
      }
      const status = await runCli(['status', '--config', setup.configFile], setup.env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/^state: up to date$/m);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    'status by a user who cannot read the state directory says so (exit 2), not "never synced" with advice to sync',
    async () => {
      expect((await setup.sync()).code).toBe(0);
      // The config and the root readable by all (as /etc/files-sync and a shared folder are); the state directory private.
      for (const dir of [path.dirname(setup.configFile), setup.root]) fs.chmodSync(dir, 0o755);
      fs.chmodSync(setup.configFile, 0o644);
      expect(mode(setup.stateDir)).toBe(0o700);
      const status = await runCli(['status', '--config', setup.configFile], setup.env, undefined, { uid: 65534, gid: 65534 });
      expect(status.stdout).not.toMatch(/never synced|run files-sync sync/);
      expect(status.code, status.stdout + status.stderr).toBe(2);
      expect(status.stderr).toContain(`cannot open the ledger file ${path.join(setup.stateDir, 'ledger.db')}`);
      expect(status.stderr).toMatch(/permission denied.*run files-sync as the user whose state it is \(uid 0\), as in sudo files-sync/i);
      // A dry run is the same read-only look at the ledger.
      const dry = await runCli(['sync', '--dry-run', '--config', setup.configFile], setup.env, undefined, { uid: 65534, gid: 65534 });
      expect(dry.code, dry.stdout + dry.stderr).toBe(2);
      expect(dry.stdout).not.toMatch(/to upload/);
      expect(dry.stderr).toContain(`cannot open the ledger file ${path.join(setup.stateDir, 'ledger.db')}`);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    'run as another user (sudo -u) from a folder that user cannot search: its own config is found, as when none is there',
    async () => {
      // sudo -u keeps the working directory (/root, say): whether it holds a sync.config.json that
      // user cannot know, and none there can be theirs.
      const cwd = path.join(setup.dir, 'private');
      fs.mkdirSync(cwd, { mode: 0o700 });
      const xdg = path.join(setup.dir, 'xdg');
      fs.mkdirSync(path.join(xdg, 'files-sync'), { recursive: true });
      const stateDir = path.join(setup.dir, 'nobody-state');
      fs.writeFileSync(path.join(xdg, 'files-sync', 'config.json'), JSON.stringify({ root: setup.root, stateDir }), { mode: 0o644 });
      for (const dir of [setup.dir, setup.root, xdg, path.join(xdg, 'files-sync')]) fs.chmodSync(dir, 0o755);
      const env = { ...setup.env, XDG_CONFIG_HOME: xdg };
      const status = await runCli(['status'], env, cwd, { uid: 65534, gid: 65534 });
      expect(status.code, status.stdout + status.stderr).toBe(0);
      expect(status.stdout).toContain(`root: ${setup.root}`);
      expect(status.stderr).not.toMatch(/sync\.config\.json/);
    },
  );

  /** Rewrites the setup's config file with `changes`. */
  const reconfigure = (changes: Record<string, unknown>) => {
    const config = JSON.parse(fs.readFileSync(setup.configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(setup.configFile, JSON.stringify({ ...config, ...changes }));
  };
  const ourFiles = () =>
    emu
      .state()
      .files.filter((f) => f.owner === 'self')
      .map((f) => f.filename);

  it('refuses the sync root itself as the state directory: its ledger would be synced', async () => {
    reconfigure({ stateDir: setup.root });
    const before = emu.state().files.length;
    const result = await runCli(['sync', '--config', setup.configFile, '--root', setup.root, '--state-dir', setup.root], setup.env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is the sync root itself/);
    expect(fs.existsSync(path.join(setup.root, 'ledger.db'))).toBe(false);
    expect(emu.state().files.length).toBe(before);
  });

  it('a state directory inside the root reached through a link is excluded by its real path', async () => {
    fs.symlinkSync(setup.root, path.join(setup.dir, 'link'));
    reconfigure({ stateDir: path.join(setup.dir, 'link', '.state') });
    const result = await setup.sync();
    expect(result.code, result.stderr).toBe(0);
    expect(fs.existsSync(path.join(setup.root, '.state', 'ledger.db'))).toBe(true);
    expect(ourFiles().filter((n) => /ledger|lock/.test(n))).toEqual([]);
    expect((await setup.sync()).code).toBe(0); // and the next run finds nothing of its own to send
    expect(ourFiles().filter((n) => /ledger|lock/.test(n))).toEqual([]);
  });

  it('refuses an API key file inside the sync root: it would be uploaded', async () => {
    fs.writeFileSync(path.join(setup.root, 'key.txt'), 'sk-emulator-local\n', { mode: 0o600 });
    reconfigure({ api: { ...(JSON.parse(fs.readFileSync(setup.configFile, 'utf8')) as { api: object }).api, keyFile: 'root/key.txt' } });
    const result = await runCli(['sync', '--config', setup.configFile], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/api\.keyFile .*key\.txt lies inside the sync root/);
    expect(ourFiles()).not.toContain('key.txt');
  });
});
afterAll(() => setup?.cleanup());
