// The listing lags behind deletes (files-api.md: "inaccessible through the API shortly after
// deletion"; the emulator's `deleteListLagMs`): a copy files-sync deleted still lists for a
// moment, now under no ledger row. The next sync must take it for what it is.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import {
  emulator,
  expectExactState,
  localHashes,
  runCli,
  syncSetup,
  TEST_KEY,
  writeTree,
  type SyncSetup,
  type TestContract,
} from '../helpers/sync.js';

let emu: Emulator;
let setup: SyncSetup;
afterEach(async () => {
  setup?.cleanup();
  await emu?.close();
});

const LAG_MS = 60_000;

async function syncOk(s: SyncSetup): Promise<string> {
  const r = await runCli(['sync', '--config', s.configFile], s.env);
  expect(r.code, r.stderr).toBe(0);
  return r.stderr;
}

/** The ids of the ledger's rows. */
function ledgerIds(s: SyncSetup): string[] {
  const ledger = Ledger.open(path.join(s.stateDir, 'ledger.db'), { readOnly: true });
  try {
    return ledger.files().map((r) => r.fileId);
  } finally {
    ledger.close();
  }
}

/** Ids the workspace's listing shows (one page: the tests hold a handful of files). */
async function listedIds(contract: TestContract): Promise<string[]> {
  const headers: Record<string, string> =
    contract === 'ga'
      ? { authorization: `Bearer ${TEST_KEY}`, 'anthropic-version': '2026-10-21' }
      : { 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' };
  const res = await fetch(`${emu.url}/v1/files?limit=1000`, { headers });
  return ((await res.json()) as { data: { id: string }[] }).data.map((f) => f.id);
}

describe.each<TestContract>(['ga', 'beta'])('a listing that lags behind deletes (%s)', (contract) => {
  async function start(): Promise<void> {
    emu = await emulator({ faults: { deleteListLagMs: LAG_MS } });
    setup = syncSetup(emu, {}, contract);
    writeTree(setup.root, { 'a.txt': 'alpha', 'b.txt': 'bravo', 'keep.txt': 'kept' });
    await syncOk(setup);
  }

  it('a file deleted and made again at once is uploaded again, not held as a look-alike', async () => {
    await start();
    const before = ledgerIds(setup);
    fs.rmSync(path.join(setup.root, 'a.txt'));
    await syncOk(setup);
    // The deleted copy still lists, under no ledger row.
    const deleted = before.filter((id) => !ledgerIds(setup).includes(id));
    expect(deleted).toHaveLength(1);
    expect(await listedIds(contract)).toContain(deleted[0]);
    writeTree(setup.root, { 'a.txt': 'alpha' });
    const stderr = await syncOk(setup);
    expect(stderr).not.toMatch(/already holds/);
    expectExactState(emu, setup, localHashes(setup.root));
  });

  it('an edit, a move and a delete leave nothing to warn about at the next sync', async () => {
    await start();
    writeTree(setup.root, { 'a.txt': 'ALPHA' });
    fs.renameSync(path.join(setup.root, 'b.txt'), path.join(setup.root, 'moved.txt'));
    fs.rmSync(path.join(setup.root, 'keep.txt'));
    const before = ledgerIds(setup);
    await syncOk(setup);
    const replaced = before.filter((id) => !ledgerIds(setup).includes(id));
    expect(replaced).toHaveLength(3);
    const listed = await listedIds(contract);
    for (const id of replaced) expect(listed).toContain(id);
    const stderr = await syncOk(setup);
    expect(stderr).toBe('');
    expectExactState(emu, setup, localHashes(setup.root));
  });
});
