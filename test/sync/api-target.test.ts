// Rule 1 across workspaces: a ledger's ids mean nothing in another workspace. A run against
// another API than the one the ledger's copies live in (another api.baseUrl or api.workspaceId)
// is refused, before any request: it used to take every copy for missing, upload the folder again
// there, and leave the first workspace's copies behind for good. The CLI, the emulator over HTTP.
import fs from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { apiTargetOf } from '../../src/sync/api-target.js';
import { daemonSetup, startDaemon } from '../helpers/daemon.js';
import { emulator, expectExactState, localHashes, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emus: Emulator[] = [];
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  for (const e of emus) await e.close();
  emus = [];
  setup = undefined;
});

/** The config file's api keys replaced by `api` (the rest kept). */
function useApi(s: SyncSetup, api: Record<string, unknown>): void {
  const config = JSON.parse(fs.readFileSync(s.configFile, 'utf8')) as { api: Record<string, unknown> };
  fs.writeFileSync(s.configFile, JSON.stringify({ ...config, api: { ...config.api, ...api } }));
}

it('another base URL or workspace than the ledgerʼs is refused before any request; the same one again syncs', async () => {
  const emu = await emulator();
  emus.push(emu);
  setup = syncSetup(emu);
  writeTree(setup.root, { 'a.txt': 'alpha' });
  expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(0);
  const requests = () => JSON.stringify(emu.state().requests);
  const before = requests();

  // The same emulator under another host name: another API, as far as the ledger can tell.
  useApi(setup, { baseUrl: emu.url.replace('127.0.0.1', 'localhost') });
  const other = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(other.code).toBe(2);
  expect(other.stderr).toMatch(/holds the copies of http:\/\/127\.0\.0\.1, but this run would sync with http:\/\/localhost: /);
  expect(other.stderr).toMatch(/give it a state directory of its own/);
  useApi(setup, { baseUrl: emu.url, workspaceId: 'wrkspc_other' });
  const workspace = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(workspace.code).toBe(2);
  expect(workspace.stderr).toMatch(/but this run would sync with http:\/\/127\.0\.0\.1 \(workspace wrkspc_other\)/);
  expect(requests()).toBe(before);

  useApi(setup, { baseUrl: emu.url, workspaceId: undefined });
  writeTree(setup.root, { 'b.txt': 'bravo' });
  expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(0);
  expectExactState(emu, setup, localHashes(setup.root));
});

it('the daemon refuses to start against another API (exit 2)', { timeout: 60_000 }, async () => {
  const emu = await emulator();
  emus.push(emu);
  setup = daemonSetup(emu);
  writeTree(setup.root, { 'a.txt': 'alpha' });
  expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(0);
  useApi(setup, { workspaceId: 'wrkspc_other' });
  const daemon = await startDaemon(setup, { ready: false });
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000).unref());
  const result = await Promise.race([daemon.done, timeout]);
  if (result === null) await daemon.stop();
  expect(result, 'the daemon is still running').not.toBeNull();
  expect(result!.code).toBe(2);
  expect(result!.stderr).toMatch(/holds the copies of .*, but this run would sync with .*workspace wrkspc_other/);
});

it("a loopback emulator's port is not part of the API a ledger records", () => {
  const api = (baseUrl: string, workspaceId?: string) => ({
    api: { baseUrl, contract: 'ga', version: '2026-10-21', fullListHours: 24, workspaceId },
  });
  expect(apiTargetOf(api('http://127.0.0.1:4100') as never)).toBe(apiTargetOf(api('http://127.0.0.1:5200/') as never));
  expect(apiTargetOf(api('https://api.anthropic.com') as never)).toBe('https://api.anthropic.com');
  expect(apiTargetOf(api('https://proxy.example:8443/anthropic/') as never)).toBe('https://proxy.example:8443/anthropic');
  expect(apiTargetOf(api('https://api.anthropic.com', 'wrkspc_1') as never)).toBe('https://api.anthropic.com (workspace wrkspc_1)');
});

it('a first run at a wrong address, which made no copy, does not bind the ledger to it', async () => {
  const emu = await emulator();
  emus.push(emu);
  setup = syncSetup(emu);
  writeTree(setup.root, { 'a.txt': 'alpha' });
  useApi(setup, { baseUrl: 'http://localhost:9' }); // nothing listens there
  expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(5);
  useApi(setup, { baseUrl: emu.url });
  const right = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(right.code, right.stderr).toBe(0);
  expectExactState(emu, setup, localHashes(setup.root));
});

it('adopt and forget-copies refuse another API too', async () => {
  const emu = await emulator();
  emus.push(emu);
  setup = syncSetup(emu);
  writeTree(setup.root, { 'a.txt': 'alpha' });
  expect((await runCli(['sync', '--config', setup.configFile], setup.env)).code).toBe(0);
  useApi(setup, { workspaceId: 'wrkspc_other' });
  for (const args of [['adopt'], ['forget-copies', 'file_0123456789abcdefghijklmn']]) {
    const r = await runCli([...args, '--config', setup.configFile], setup.env);
    expect(r.code, args[0]).toBe(2);
    expect(r.stderr, args[0]).toMatch(/holds the copies of .*, but this run would sync with .*workspace wrkspc_other/);
  }
});
