// `files-sync forget-copies ID...` is all or nothing (README, "Unclaimed copies"): every id is
// checked, in the ledger and against its remote file, before any is deleted.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator, InspectedFile } from '../../src/emulator/index.js';
import { tearDown } from '../helpers/daemon.js';
import { emulator, runCli, spawnCli, syncSetup, TEST_KEY, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  [emu, setup] = [undefined, undefined];
});

/** A sync whose every answer is lost, with a look-alike stored during its attempts: all its copies are unclaimed. */
async function unclaimedCopies(): Promise<{ ours: string[]; foreign: InspectedFile }> {
  emu = await emulator({ faults: { lostUploadAnswer: 1 } });
  setup = syncSetup(emu);
  writeTree(setup.root, { 'report.txt': 'quarterly numbers, ours' });
  const run = spawnCli(['sync', '--config', setup.configFile, '--allow-duplicates'], setup.env);
  await waitFor(() => (emu!.state().faults['lost_answer'] ?? 0) >= 2, 'two lost answers', 30_000);
  const foreign = emu.seed({ filename: 'report.txt', content_base64: Buffer.from('quarterly numbers, THEM').toString('base64') });
  expect((await run.done).code).not.toBe(0);
  const ours = emu
    .state()
    .files.filter((f) => f.owner === 'self')
    .map((f) => f.id);
  const status = await runCli(['status', '--config', setup.configFile, '--json'], setup.env);
  const listed = (JSON.parse(status.stdout) as { unclaimedCopies: { id: string }[] }).unclaimedCopies.map((c) => c.id);
  expect(listed.sort()).toEqual([...ours, foreign.id].sort());
  return { ours, foreign };
}

function remoteIds(): string[] {
  return emu!.state().files.map((f) => f.id);
}

describe('forget-copies', () => {
  it('deletes nothing when one recorded copy no longer matches its remote file, whatever the order of the ids', async () => {
    const { ours, foreign } = await unclaimedCopies();
    // The record of the last id disagrees with the file the API holds under that id.
    const stale = ours.at(-1)!;
    const db = new Database(path.join(setup!.stateDir, 'ledger.db'));
    db.prepare('UPDATE unclaimed_copies SET created_at = ? WHERE file_id = ?').run('2001-01-01T00:00:00.000000Z', stale);
    db.close();

    const before = remoteIds().sort();
    for (const order of [ours, [stale, ...ours.slice(0, -1)]]) {
      const refused = await runCli(['forget-copies', '--config', setup!.configFile, ...order], setup!.env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`nothing was deleted.*${stale}.*no longer matches`));
      expect(refused.stdout).not.toMatch(/deleted/);
      expect(remoteIds().sort()).toEqual(before);
    }

    // The ids that do match go on the user's word; the foreign look-alike stays until it is named.
    const matching = ours.slice(0, -1);
    const forgot = await runCli(['forget-copies', '--config', setup!.configFile, ...matching], setup!.env);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout.trim().split('\n')).toEqual(matching.map((id) => `${id}: deleted`));
    expect(remoteIds().sort()).toEqual([stale, foreign.id].sort());
  }, 60_000);

  it('without a ledger there is nothing to forget, and none is made', async () => {
    emu = await emulator();
    setup = syncSetup(emu);
    const r = await runCli(['forget-copies', '--config', setup.configFile, 'file_anything'], setup.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no ledger at .*ledger\.db: nothing was deleted/);
    expect(fs.existsSync(setup.stateDir)).toBe(false);
  });

  it('an id already gone from the workspace is forgotten, and the others deleted', async () => {
    const { ours } = await unclaimedCopies();
    const [gone, ...rest] = ours;
    const headers = { authorization: `Bearer ${TEST_KEY}`, 'anthropic-version': '2026-10-21' };
    expect((await fetch(`${emu!.url}/v1/files/${gone}`, { method: 'DELETE', headers })).status).toBe(200);
    const forgot = await runCli(['forget-copies', '--config', setup!.configFile, ...ours], setup!.env);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toContain(`${gone}: already gone`);
    for (const id of rest) expect(remoteIds()).not.toContain(id);
  }, 60_000);
});
