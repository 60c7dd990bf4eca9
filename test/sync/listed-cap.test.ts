// A review's finding: a run's report listed every failed and skipped path, and whoever writes into
// the folder decides how many there are. 200,000 symbolic links (a few MB of disk) made a 27 MB
// report, written into the ledger at every run, and a 270 MB peak. The report keeps the first
// LISTED_MAX of each list; its counts, the exit code and the ledger's failures keep them all.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { emulator, runCli, syncSetup } from '../helpers/sync.js';

/** The report's lists keep this many entries each (src/arrays.ts LISTED_MAX). */
const LISTED_MAX = 1000;

let emu: Emulator;
beforeAll(async () => {
  emu = await emulator();
});
afterAll(async () => emu.close());

it('lists the first paths that failed or were skipped, and counts them all', async () => {
  // Files of more than 10 bytes fail (too large); links are skipped; three small files go.
  const setup = syncSetup(emu, { maxFileBytes: 10 });
  try {
    const links = LISTED_MAX + 500;
    const large = LISTED_MAX + 200;
    for (let i = 0; i < links; i++) fs.symlinkSync('/etc/passwd', path.join(setup.root, `link-${String(i).padStart(5, '0')}`));
    for (let i = 0; i < large; i++)
      fs.writeFileSync(path.join(setup.root, `large-${String(i).padStart(5, '0')}.txt`), 'more than ten bytes');
    for (const name of ['a.txt', 'b.txt', 'c.txt']) fs.writeFileSync(path.join(setup.root, name), name);

    const json = await setup.sync(['--json']);
    expect(json.code, json.stderr).toBe(1);
    const report = JSON.parse(json.stdout) as {
      counts: { failed: number; skipped: number; new: number };
      failed: { path: string }[];
      skipped: { path: string }[];
    };
    expect(report.counts).toMatchObject({ failed: large, skipped: links, new: 3 });
    expect(report.failed).toHaveLength(LISTED_MAX);
    expect(report.skipped).toHaveLength(LISTED_MAX);
    expect(report.failed[0]!.path).toBe('large-00000.txt');
    expect(json.stdout.length).toBeLessThan(500_000);

    // Every failure is in the ledger all the same (what status and the next runs read).
    const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'), { readOnly: true });
    try {
      expect(ledger.failures()).toHaveLength(large);
    } finally {
      ledger.close();
    }

    // The human summary counts them all too.
    const human = await setup.sync();
    expect(human.code, human.stderr).toBe(1);
    expect(human.stdout).toContain(`${large} failed, ${links} skipped`);
    expect(human.stdout).toContain(`… and ${large - 50} more`);
    expect(human.stdout).toContain(`… and ${links - 10} more`);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.code, status.stderr).toBe(0);
  } finally {
    setup.cleanup();
  }
}, 120_000);

it('lists the first new paths held as look-alikes, and counts them all (a lost state directory)', async () => {
  const setup = syncSetup(emu, { requestsPerMinute: 100_000 });
  try {
    const files = LISTED_MAX + 20;
    for (let i = 0; i < files; i++) fs.writeFileSync(path.join(setup.root, `f-${String(i).padStart(5, '0')}.txt`), `content ${i}`);
    expect((await setup.sync()).code).toBe(0);
    fs.rmSync(setup.stateDir, { recursive: true });

    // Not setup.sync(): it allows duplicates (tests share emulators).
    const json = await runCli(['sync', '--config', setup.configFile, '--json'], setup.env);
    expect(json.code, json.stderr).toBe(3);
    const report = JSON.parse(json.stdout) as { alreadyRemote: string[]; alreadyRemoteCount: number };
    expect(report.alreadyRemote).toHaveLength(LISTED_MAX);
    expect(report.alreadyRemoteCount).toBe(files);
    expect(report.alreadyRemote[0]).toBe('f-00000.txt');

    const human = await runCli(['sync', '--config', setup.configFile], setup.env);
    expect(human.code, human.stdout + human.stderr).toBe(3);
    expect(human.stdout).toContain(`held: ${files} files are not uploaded`);
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toContain(`failing: ${files} files are not uploaded`);
    expect(status.stdout).toContain(`held uploads: ${files} files are not uploaded`);
  } finally {
    setup.cleanup();
  }
}, 120_000);
