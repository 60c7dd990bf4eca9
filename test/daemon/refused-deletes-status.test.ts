// Deletes the API refuses, under the daemon: `status` says "failing: N deletes failed", as after
// a one-shot run, not "syncing: 0 to upload, N to delete" for as long as the refusals last (the
// idle daemon retries them at its next reconciliation; nothing else is under way).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, startDaemon, tearDown } from '../helpers/daemon.js';
import { tamperingProxy, type Proxy } from '../helpers/proxy.js';
import { emulator, runCli, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
let proxy: Proxy | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  await proxy?.close();
  emu = setup = proxy = undefined;
});

const REFUSED = { type: 'error', error: { type: 'permission_error', message: 'deletes are not allowed for this key' } };

describe('daemon: refused deletes', () => {
  it('status says the deletes failed, not that the daemon is syncing', async () => {
    emu = await emulator();
    proxy = await tamperingProxy(emu.url);
    setup = daemonSetup(emu, { api: { baseUrl: proxy.url } });
    writeTree(setup.root, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
    await startDaemon(setup);
    const p = proxy;
    p.intercept = (method) => (method === 'DELETE' ? { status: 403, body: REFUSED } : undefined);
    fs.rmSync(path.join(setup.root, 'a.txt'));
    fs.writeFileSync(path.join(setup.root, 'b.txt'), 'b changed');
    // The removed file's copy and the changed file's old copy: both refused.
    await waitFor(() => p.seen.filter((r) => r.startsWith('DELETE')).length >= 2, 'two refused deletes', 20_000);
    const status = async () => (await runCli(['status', '--config', setup!.configFile], setup!.env)).stdout;
    await waitFor(async () => /^state: failing/m.test(await status()), 'status to say failing', 10_000).catch(() => undefined);
    const said = await status();
    expect(said).toMatch(/^state: failing: 2 deletes failed$/m);
    expect(said).not.toMatch(/syncing/);

    // Once the API takes them, the next reconciliation deletes them and the folder is up to date.
    p.intercept = undefined;
    const run = await runCli(['sync', '--config', setup.configFile], setup.env);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    await waitFor(async () => /^state: up to date/m.test(await status()), 'status to say up to date', 20_000);
  });
});
