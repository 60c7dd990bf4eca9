// The systemd credential: an ACL'd 0400 file (mode shows 0440) is accepted; api.keyFile keeps the
// ssh-style check and the refusal names its source (issue 8, item 3).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { TEST_KEY, emulator, runCli, syncSetup, type SyncSetup } from '../helpers/sync.js';

const hasSetfacl = spawnSync('setfacl', ['--version']).status === 0;
if (!hasSetfacl) console.warn('setfacl is missing: the ACL credential test is skipped (install the acl package)');

let emu: Emulator;
let setup: SyncSetup;
beforeAll(async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
});
afterAll(async () => {
  setup.cleanup();
  await emu.close();
});

describe('the API key from systemd credentials', () => {
  it.skipIf(!hasSetfacl)('accepts a 0400 credential that systemd opened to the service user with an ACL', async () => {
    const creds = path.join(setup.dir, 'creds');
    fs.mkdirSync(creds, { mode: 0o700 });
    const file = path.join(creds, 'anthropic-api-key');
    fs.writeFileSync(file, TEST_KEY, { mode: 0o400 });
    const acl = spawnSync('setfacl', ['-m', 'u:nobody:r', file], { encoding: 'utf8' });
    if (acl.status !== 0) return console.warn(`setfacl failed here (${acl.stderr.trim()}): skipped`);
    // The ACL mask now shows in the group bits, as under systemd.
    expect(fs.statSync(file).mode & 0o777).toBe(0o440);
    const result = await runCli(['sync', '--config', setup.configFile, '--dry-run'], { CREDENTIALS_DIRECTORY: creds });
    expect(result.stderr).not.toMatch(/readable by group/);
    expect(result.code, result.stderr).toBe(0);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'a credential its user cannot look at is said to be unreadable, not missing ("no API key")',
    async () => {
      const creds = path.join(setup.dir, 'creds-root');
      fs.mkdirSync(creds, { mode: 0o700 });
      fs.writeFileSync(path.join(creds, 'anthropic-api-key'), TEST_KEY, { mode: 0o400 });
      // The user runs with a config it can read; the credentials directory is root's alone.
      const config = path.join(fs.mkdtempSync(path.join(setup.dir, 'open-')), 'config.json');
      fs.chmodSync(path.dirname(config), 0o755);
      fs.chmodSync(setup.dir, 0o755);
      fs.copyFileSync(setup.configFile, config);
      fs.chmodSync(config, 0o644);
      const result = await runCli(['sync', '--dry-run', '--config', config], { CREDENTIALS_DIRECTORY: creds }, undefined, {
        uid: 65534,
        gid: 65534,
      });
      expect(result.code).toBe(2);
      expect(result.stderr).not.toMatch(/no API key/);
      expect(result.stderr).toMatch(/systemd credential.*anthropic-api-key.*(EACCES|permission denied)/i);
      expect(result.stderr).not.toContain(TEST_KEY);
    },
  );

  it('still refuses a group-readable api.keyFile and says that the key file was refused', async () => {
    const keyFile = path.join(setup.dir, 'key');
    fs.writeFileSync(keyFile, TEST_KEY, { mode: 0o640 });
    fs.chmodSync(keyFile, 0o640);
    const config = path.join(setup.dir, 'config-keyfile.json');
    const base = JSON.parse(fs.readFileSync(setup.configFile, 'utf8')) as { api: Record<string, unknown> };
    fs.writeFileSync(config, JSON.stringify({ ...base, api: { ...base.api, keyFile } }));
    const result = await runCli(['sync', '--config', config, '--dry-run']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/api\.keyFile/);
    expect(result.stderr).toMatch(/chmod 600/);
    expect(result.stderr).not.toContain(TEST_KEY);
  });
});
