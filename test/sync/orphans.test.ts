// Orphans of lost answers are matched on the server's clock and never cost a foreign file (DESIGN.md
// rules 1 and 3): foreign files of the same name and size, created before, during and after the
// attempts, in `path` and `basename` mode, with the emulator's clock set off the host's.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator, InspectedFile } from '../../src/emulator/index.js';
import {
  emulator,
  expectExactState,
  localHashes,
  runCli,
  sha256,
  spawnCli,
  syncSetup,
  waitFor,
  writeTree,
  type SyncSetup,
} from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

const OURS = 'quarterly numbers, ours';
const THEIRS = 'quarterly numbers, THEM'; // the same size, other bytes

function seedForeign(e: Emulator, filename: string): InspectedFile {
  expect(Buffer.byteLength(THEIRS)).toBe(Buffer.byteLength(OURS));
  return e.seed({ filename, content_base64: Buffer.from(THEIRS).toString('base64') });
}

/** The foreign file is there, byte for byte, and no path of `files-sync ls` names it. */
async function expectUntouched(e: Emulator, s: SyncSetup, foreign: InspectedFile): Promise<void> {
  const stored = e.state().files.find((f) => f.id === foreign.id);
  expect(stored, `foreign file ${foreign.id} deleted`).toBeDefined();
  expect(stored).toMatchObject({ sha256: sha256(THEIRS), owner: foreign.owner });
  const ls = await runCli(['ls', '--config', s.configFile, '--json'], s.env);
  expect(ls.code, ls.stderr).toBe(0);
  const rows = JSON.parse(ls.stdout) as { path: string; file_id: string }[];
  expect(rows.map((r) => r.file_id)).not.toContain(foreign.id);
}

function ours(e: Emulator): InspectedFile[] {
  return e.state().files.filter((f) => f.owner === 'self');
}

async function statusJson(s: SyncSetup): Promise<{ unclaimedCopies: { id: string; path: string }[] }> {
  const status = await runCli(['status', '--config', s.configFile, '--json'], s.env);
  expect(status.code, status.stderr).toBe(0);
  return JSON.parse(status.stdout) as { unclaimedCopies: { id: string; path: string }[] };
}

/** Runs a sync while `during` runs once the emulator has lost `after` answers. */
async function syncWith(s: SyncSetup, e: Emulator, after: number, during: () => void): Promise<number | null> {
  const run = spawnCli(['sync', '--config', s.configFile, '--allow-duplicates'], s.env);
  await waitFor(() => (e.state().faults['lost_answer'] ?? 0) >= after, `${after} lost answers`, 30_000);
  during();
  return (await run.done).code;
}

describe.each(['path', 'basename'] as const)('remoteNames: %s', (mode) => {
  const rel = mode === 'basename' ? 'docs/report.pdf' : 'report.pdf';

  it('a foreign file created before the attempts is neither adopted nor deleted (every answer lost)', async () => {
    emu = await emulator({ faults: { lostUploadAnswer: 1 } });
    setup = syncSetup(emu, { remoteNames: mode });
    writeTree(setup.root, { [rel]: OURS });
    const foreign = seedForeign(emu, 'report.pdf');
    emu.setClockOffset(60_000); // the foreign file is a minute old on the server's clock
    const first = await setup.sync();
    expect(first.code, first.stderr).not.toBe(0); // the upload failed: no answer came back
    await expectUntouched(emu, setup, foreign);
    // One of our five copies was adopted, the other four deleted: none is left over.
    expect(ours(emu)).toHaveLength(1);
    // The local file changes (same size): the next sync replaces our copy, never the foreign one.
    emu.setFaults({});
    fs.writeFileSync(path.join(setup.root, rel), OURS.toUpperCase());
    const second = await setup.sync();
    expect(second.code, second.stderr).toBe(0);
    await expectUntouched(emu, setup, foreign);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
  }, 60_000);

  it("a foreign file created during the attempts makes the copies ambiguous: unclaimed, then forgotten on the user's word", async () => {
    emu = await emulator({ faults: { lostUploadAnswer: 1 } });
    setup = syncSetup(emu, { remoteNames: mode });
    writeTree(setup.root, { [rel]: OURS });
    let foreign: InspectedFile | undefined;
    const code = await syncWith(setup, emu, 2, () => (foreign = seedForeign(emu!, 'report.pdf')));
    expect(code).not.toBe(0);
    await expectUntouched(emu, setup, foreign!);
    const own = ours(emu)
      .map((f) => f.id)
      .sort();
    expect(own).toHaveLength(5); // nothing of ours was touched either: six copies for five attempts
    const status = await statusJson(setup);
    expect(status.unclaimedCopies.map((c) => c.id).sort()).toEqual([...own, foreign!.id].sort());
    const human = await runCli(['status', '--config', setup.configFile], setup.env);
    for (const id of own) expect(human.stdout).toContain(id);

    // Only recorded unclaimed copies can be forgotten: anything else is refused, nothing deleted.
    const refused = await runCli(['forget-copies', '--config', setup.configFile, own[0]!, 'file_notAnUnclaimedCopy000'], setup.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/file_notAnUnclaimedCopy000.*not an unclaimed copy/);
    expect(ours(emu)).toHaveLength(5);
    const forgot = await runCli(['forget-copies', '--config', setup.configFile, ...own], setup.env);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(ours(emu)).toHaveLength(0);
    expect((await statusJson(setup)).unclaimedCopies.map((c) => c.id)).toEqual([foreign!.id]);

    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    await expectUntouched(emu, setup, foreign!);
    expectExactState(emu, setup, localHashes(setup.root), [foreign!.id]);
  }, 60_000);

  it('partial loss: a foreign file created between a lost answer and the success is not deleted', async () => {
    emu = await emulator({ faults: { lostUploadAnswer: 1 } });
    setup = syncSetup(emu, { remoteNames: mode });
    writeTree(setup.root, { [rel]: OURS });
    let foreign: InspectedFile | undefined;
    const code = await syncWith(setup, emu, 1, () => {
      foreign = seedForeign(emu!, 'report.pdf');
      emu!.setFaults({}); // the next attempt is answered
    });
    expect(code).toBe(0);
    await expectUntouched(emu, setup, foreign!);
    const unclaimed = (await statusJson(setup)).unclaimedCopies.map((c) => c.id);
    expect(unclaimed).toContain(foreign!.id);
    expect(unclaimed).toHaveLength(2); // our lost copy and theirs: one attempt cannot have made both
  }, 60_000);
});

describe("the server's clock", () => {
  it('the emulator 10 minutes behind this host: our orphans are still found and settled', async () => {
    emu = await emulator({ faults: { lostUploadAnswer: 1 }, clockOffsetMs: -600_000 });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a.txt': OURS });
    await setup.sync();
    expect(ours(emu)).toHaveLength(1);
    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  }, 60_000);

  it('the emulator 10 minutes ahead: a foreign file 3 minutes old on its clock is not in the window', async () => {
    emu = await emulator({ faults: { lostUploadAnswer: 1 }, clockOffsetMs: 420_000 });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'report.pdf': OURS });
    const foreign = seedForeign(emu, 'report.pdf');
    emu.setClockOffset(600_000);
    await setup.sync();
    await expectUntouched(emu, setup, foreign);
    expect(ours(emu)).toHaveLength(1);
    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
  }, 60_000);

  it('a listed look-alike in the window keeps the row ambiguous: one made during the attempts is not adopted either', async () => {
    emu = await emulator({ faults: { resetMidUpload: 1 } });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'report.pdf': OURS });
    const listed = seedForeign(emu, 'report.pdf');
    // 3 s back: the listed file sits well inside the window however slowly the run starts.
    emu.setClockOffset(-3_000);
    const run = spawnCli(['sync', '--config', setup.configFile, '--allow-duplicates'], setup.env);
    await waitFor(() => (emu!.state().faults['reset'] ?? 0) >= 1, 'an upload cut mid-body', 30_000);
    const during = seedForeign(emu, 'report.pdf'); // after the listing, inside the attempts' window
    expect((await run.done).code).not.toBe(0);
    await expectUntouched(emu, setup, listed);
    await expectUntouched(emu, setup, during);
    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    await expectUntouched(emu, setup, listed);
    await expectUntouched(emu, setup, during);
    expectExactState(emu, setup, localHashes(setup.root), [listed.id, during.id]);
  }, 60_000);

  it('a foreign file the run had listed is never its orphan, even when the clock places it after the intent', async () => {
    // Every attempt is cut mid-body: nothing of ours is stored, and each attempt's outcome is unknown.
    emu = await emulator({ faults: { resetMidUpload: 1 } });
    setup = syncSetup(emu);
    writeTree(setup.root, { 'report.pdf': OURS });
    const foreign = seedForeign(emu, 'report.pdf');
    // The server's clock steps back 3 s: on it, the foreign file now looks made after our intent,
    // as one made less than a second before it can with a `Date` of whole seconds.
    emu.setClockOffset(-3_000);
    const first = await setup.sync();
    expect(first.code, first.stderr).not.toBe(0);
    expect(first.stderr).not.toMatch(/adopted/);
    await expectUntouched(emu, setup, foreign);
    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    await expectUntouched(emu, setup, foreign);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
  }, 60_000);
});
