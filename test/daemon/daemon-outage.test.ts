// `files-sync daemon` through an API outage: the emulator stopped (connections refused) or
// answering only 529s for a while. Nothing is dropped, the daemon does not exit, and the outage
// is logged once when it starts and once when it ends. The files that failed because the API was
// down are delivered by the reconciliation its recovery starts, not after a per-file back-off.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, ledgerRows, startDaemon, tearDown, waitForMirror } from '../helpers/daemon.js';
import { emulator, expectExactState, localHashes, runCli, tempDir, waitFor, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await tearDown(emu, setup);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  emu = setup = dataDir = undefined;
});

type Entry = { level: string; message: string; module?: string };
const entries = (lines: string[]): Entry[] => lines.map((l) => JSON.parse(l) as Entry);

describe('daemon: the API down for a while', () => {
  for (const outage of ['stopped', 'answering 529'] as const) {
    it(`delivers every change made while the API was ${outage}, logging "unreachable" and "recovered" once`, async () => {
      dataDir = tempDir('fs-emu-data-');
      emu = await emulator({ dataDir });
      const port = emu.port;
      setup = daemonSetup(emu);
      writeTree(setup.root, { 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' });
      const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
      await waitForMirror(emu, setup, 'the first run');

      if (outage === 'stopped') await emu.close();
      else emu.setFaults({ rate529: 1 });
      writeTree(setup.root, { 'a.txt': 'a, changed while down', 'new/d.txt': 'added while down' });
      fs.rmSync(path.join(setup.root, 'b.txt'));
      await daemon.waitForLine(/"message":"API unreachable/, 30_000);
      // Changes keep arriving while the daemon knows the API is down: they wait, parked or queued.
      writeTree(setup.root, { 'e.txt': 'added later' });
      await waitFor(async () => {
        const s = await daemonStatus(setup!);
        return s.api.state === 'down' && s.queue.queued + s.queue.parked + s.queue.settling >= 1;
      }, 'the later change to wait');
      if (outage === 'stopped') {
        // Outlast the client's own retries: only the daemon's probe can notice the recovery.
        await waitFor(async () => (await daemonStatus(setup!)).api.failedProbes >= 1, 'a failed probe', 30_000);
      }

      if (outage === 'stopped') emu = await emulator({ dataDir, port });
      else emu.setFaults({});
      // The files whose uploads failed because the API was down are not held back by a per-file
      // back-off once it answers: the reconciliation the recovery starts delivers every change.
      const recovered = JSON.parse(await daemon.waitForLine(/"message":"reconciled \([^)]*API recovered/, 40_000)) as Record<
        string,
        unknown
      >;
      expect(recovered.failed).toBe(0);
      expectExactState(emu, setup, localHashes(setup.root));
      await waitForMirror(emu, setup, 'every change after the recovery');
      expect(daemon.child.exitCode).toBeNull();

      const log = entries(daemon.lines());
      expect(log.filter((e) => e.message.startsWith('API unreachable')).map((e) => [e.module, e.level])).toEqual([['api', 'warn']]);
      expect(log.filter((e) => e.message.startsWith('API recovered')).map((e) => [e.module, e.level])).toEqual([['api', 'info']]);
      // Between the two, the client's own per-call failures were not repeated in the log.
      const down = log.findIndex((e) => e.message.startsWith('API unreachable'));
      const up = log.findIndex((e) => e.message.startsWith('API recovered'));
      expect(log.slice(down + 1, up).filter((e) => e.module === 'remote' && e.level === 'error')).toEqual([]);
      expect((await daemon.stop()).code).toBe(0);
    });
  }
});

describe('daemon: upload answers lost', () => {
  it('the copies of lost answers are neither deleted nor adopted but listed as unclaimed (rule 3: the daemon cannot tell them from a look-alike)', async () => {
    emu = await emulator({ faults: { lostUploadAnswer: 0.3, seed: 23 } });
    setup = daemonSetup(emu);
    const files = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`lost-${i}.txt`, `content ${i}`]));
    writeTree(setup.root, files);
    const daemon = await startDaemon(setup, { args: ['--log-format', 'json'] });
    await waitFor(() => ledgerRows(setup!).length === 24, 'every path mapped', 30_000);
    expect(emu.state().faults.lost_answer ?? 0).toBeGreaterThan(0);
    emu.setFaults({ lostUploadAnswer: 0 });
    const run = await setup.sync(); // a reconciliation through the daemon: its sweep of the rows
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // Every path maps to a copy with its content; every other copy of ours is still there, unclaimed.
    const byId = new Map(emu.state().files.map((f) => [f.id, f]));
    const rows = ledgerRows(setup);
    for (const row of rows) expect(byId.get(row.fileId)?.sha256, row.path).toBe(localHashes(setup.root).get(row.path));
    const ours = emu.state().files.filter((f) => f.owner === 'self');
    const status = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
    const unclaimed = (JSON.parse(status.stdout) as { unclaimedCopies: { id: string }[] }).unclaimedCopies;
    expect(unclaimed.length).toBeGreaterThan(0);
    expect(ours.length).toBe(rows.length + unclaimed.length);
    expect((await daemon.stop()).code).toBe(0);
  });
});
