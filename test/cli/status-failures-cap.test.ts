// A review's finding: `status` printed every failure the ledger holds, and whoever writes into the
// folder decides how many (200,000 sparse files over the size limit cost no disk: 22 MB of output,
// 353 MB of memory). It lists the first LISTED_MAX (the first 50 in the human text) and counts all.
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LISTED_MAX } from '../../src/arrays.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { emulator, runCli, syncSetup, writeTree } from '../helpers/sync.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await emulator();
});
afterAll(async () => emu.close());

it('status lists the first failures and counts them all', async () => {
  const setup = syncSetup(emu);
  try {
    writeTree(setup.root, { 'a.txt': 'a' });
    expect((await setup.sync()).code).toBe(0);
    const total = LISTED_MAX + 300;
    const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
    try {
      for (let i = 0; i < total; i++)
        ledger.recordFailure(`big/${String(i).padStart(5, '0')}.bin`, 'too large', 'on-change', { size: 1 << 30, mtimeMs: 1 }, Date.now());
    } finally {
      ledger.close();
    }
    const json = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
    const doc = JSON.parse(json.stdout) as { failures: { path: string }[]; failureCount: number };
    expect(doc.failureCount).toBe(total);
    expect(doc.failures).toHaveLength(LISTED_MAX);
    expect(doc.failures[0]!.path).toBe('big/00000.bin');
    const human = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(human.stdout).toMatch(new RegExp(`^failures: ${total}$`, 'm'));
    expect(human.stdout.match(/^ {2}big\//gm)).toHaveLength(50);
    expect(human.stdout).toMatch(new RegExp(`^ {2}… and ${total - 50} more$`, 'm'));
  } finally {
    setup.cleanup();
  }
});
