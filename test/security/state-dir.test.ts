// The state directory and ledger are the program's own (DESIGN.md rule 9, issue 8 item 6c):
// created 0700 / 0600 whatever the umask, and refused, with the command to run, when another
// user owns them or group or others can write them.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, syncSetup, type SyncSetup } from '../helpers/sync.js';

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

  it.skipIf(process.getuid?.() !== 0)('refuses a state directory another user owns, giving the chown to run', async () => {
    fs.mkdirSync(setup.stateDir, { mode: 0o700 });
    fs.chownSync(setup.stateDir, 65534, 65534);
    const result = await setup.sync();
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/owned by another user \(uid 65534\)/);
    expect(result.stderr).toContain(`chown`);
  });
});
afterAll(() => setup?.cleanup());
