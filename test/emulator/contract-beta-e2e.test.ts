// The beta contract end to end, a representative subset: one `files-sync sync` and one daemon run
// with `api.contract: "beta"` (the e2e and daemon suites run under GA, the default).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, startDaemon, tearDown, waitForMirror } from '../helpers/daemon.js';
import { emulator, expectExactState, localHashes, requestTotals, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  emu = setup = undefined;
});

describe('the beta contract end to end', () => {
  it('sync: uploads, replaces and deletes with full listings only, foreign files untouched', async () => {
    emu = await emulator();
    setup = syncSetup(emu, {}, 'beta');
    const foreign = emu.seed({ filename: 'a.txt', content_base64: Buffer.from('someone else').toString('base64') });
    writeTree(setup.root, { 'a.txt': 'alpha', 'docs/b.md': '# b', 'c.json': '{}' });
    const first = await setup.sync();
    expect(first.code, first.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);

    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'alpha, changed');
    fs.rmSync(path.join(setup.root, 'c.json'));
    emu.resetCounters();
    const second = await setup.sync();
    expect(second.code, second.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
    const totals = requestTotals(emu);
    // The beta has no ids[]: the run lists the workspace, uploads one file and deletes two ids.
    expect(totals).toEqual({ 'GET /v1/files': 1, 'POST /v1/files': 1, 'DELETE /v1/files/{id}': 2 });

    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/API contract: beta \(anthropic-version 2023-06-01\)/);
  });

  it('daemon: mirrors a new and a deleted file', async () => {
    emu = await emulator();
    setup = daemonSetup(emu, {}, 'beta');
    writeTree(setup.root, { 'start.txt': 'there before the daemon' });
    const daemon = await startDaemon(setup);
    await waitForMirror(emu, setup, 'the first reconciliation');
    writeTree(setup.root, { 'new.txt': 'new' });
    await waitForMirror(emu, setup, 'a new file');
    fs.rmSync(path.join(setup.root, 'start.txt'));
    await waitForMirror(emu, setup, 'a deleted file');
    expect(requestTotals(emu)['GET /v1/files?ids[]']).toBeUndefined();
    const stopped = await daemon.stop();
    expect(stopped.code, stopped.stderr).toBe(0);
  });
});
