// Typed file conditions (src/file-errors.ts): whether a per-file failure is retried is decided
// where it is raised, so the upload agrees with the planner (a file over the cap waits for a
// change, a changing file is looked at again). Real executor, client, emulator and ledger file.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, tempDir, beforeFirstUpload } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-conditions-');
  fs.mkdirSync(path.join(dir, 'root'));
  ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
  client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
});
afterEach(async () => {
  ledger.close();
  await client.close();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('file conditions raised by the upload', () => {
  it('a file that grew past the cap after the walk is a permanent failure, as the planner has it', async () => {
    const file = path.join(dir, 'root', 'grows.log');
    fs.writeFileSync(file, 'small');
    const config = {
      ...loadConfig({ root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') }, {}, dir),
      settleSeconds: 0,
      maxFileBytes: 100,
    };
    const remote = beforeFirstUpload(client, () => fs.appendFileSync(file, 'x'.repeat(500)));
    const report = await reconcile({ config, ledger, remote, logger: silentLogger() });
    expect(report.uploaded).toBe(0);
    expect(ledger.failures()).toEqual([
      expect.objectContaining({ path: 'grows.log', retryable: false, error: expect.stringMatching(/^too large/) }),
    ]);
  });
});
