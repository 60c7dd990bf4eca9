// A failure row says why a path is not uploaded; once the path is gone (deleted, or now excluded),
// it says nothing true any more. A reconciliation whose walk saw the whole tree drops the rows of
// paths it did not find, so `status` stops listing files that no longer exist (before, they stayed
// for ever after a one-shot sync; only the daemon's path jobs cleared them), and the daemon's
// delete batches do not count them among the failed uploads they look at, an lstat each
// (daemon/waiting-moves.ts).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { emulator, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

async function statusFailures(s: SyncSetup): Promise<string[]> {
  const status = await runCli(['status', '--config', s.configFile, '--json'], s.env);
  return (JSON.parse(status.stdout) as { failures: { path: string }[] }).failures.map((f) => f.path);
}

function ledgerFailures(s: SyncSetup): string[] {
  const ledger = Ledger.open(path.join(s.stateDir, 'ledger.db'), { readOnly: true });
  try {
    return ledger.failures().map((f) => f.path);
  } finally {
    ledger.close();
  }
}

it('a sync drops the failures of paths its whole walk did not find, and keeps those it did', async () => {
  emu = await emulator();
  setup = syncSetup(emu, { maxFileBytes: 1000 });
  writeTree(setup.root, { 'a.txt': 'fine', 'big/1.bin': Buffer.alloc(2000, 1), 'big/2.bin': Buffer.alloc(2000, 2) });
  expect((await setup.sync()).code).toBe(1);
  expect(await statusFailures(setup)).toEqual(['big/1.bin', 'big/2.bin']);

  fs.rmSync(path.join(setup.root, 'big/1.bin'));
  const second = await setup.sync();
  expect(second.code, second.stderr).toBe(1); // big/2.bin is still too large
  expect(await statusFailures(setup)).toEqual(['big/2.bin']);

  fs.rmSync(path.join(setup.root, 'big'), { recursive: true });
  expect((await setup.sync()).code).toBe(0);
  expect(await statusFailures(setup)).toEqual([]);
  expect(ledgerFailures(setup)).toEqual([]);
}, 60_000);

it.skipIf(process.getuid?.() === 0)(
  'a walk that could not read a folder drops no failure row (what it did not see may still be there)',
  async () => {
    emu = await emulator();
    setup = syncSetup(emu, { maxFileBytes: 1000 });
    writeTree(setup.root, { 'a.txt': 'fine', 'locked/big.bin': Buffer.alloc(2000, 1) });
    expect((await setup.sync()).code).toBe(1);
    const locked = path.join(setup.root, 'locked');
    fs.chmodSync(locked, 0o000);
    try {
      await setup.sync();
      expect(ledgerFailures(setup)).toContain('locked/big.bin');
    } finally {
      fs.chmodSync(locked, 0o755);
    }
  },
  60_000,
);
