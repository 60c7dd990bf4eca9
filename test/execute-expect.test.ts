// A file that changes between the walk and its upload: the client refuses the stale version before
// sending anything (UploadOptions.expect), and the executor hashes it again and sends the new one.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import type { Emulator } from '../src/emulator/index.js';
import { Ledger } from '../src/ledger/ledger.js';
import { silentLogger } from '../src/log.js';
import { FilesClient } from '../src/remote/client.js';
import type { RemoteFiles, UploadOptions } from '../src/remote/types.js';
import { reconcile } from '../src/sync/reconcile.js';
import { TEST_KEY, emulator, sha256, tempDir, writeTree } from './helpers/sync.js';

let emu: Emulator;
let dir: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-expect-');
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

function config(): Config {
  return { ...loadConfig({ root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0 };
}

it('a file changed after the walk is hashed again and sent once, with no torn copy', async () => {
  writeTree(path.join(dir, 'root'), { 'a.txt': 'walked version', 'b.txt': 'steady' });
  const expects: (UploadOptions['expect'] | undefined)[] = [];
  let changed = false;
  const remote: RemoteFiles = {
    list: (o) => client.list(o),
    get: (id, o) => client.get(id, o),
    delete: (id, o) => client.delete(id, o),
    download: (id, to, o) => client.download(id, to, o),
    upload(file, options) {
      expects.push(options.expect);
      if (!changed && file.endsWith('a.txt')) {
        changed = true;
        fs.writeFileSync(file, 'edited after the walk, longer');
        const later = new Date(Date.now() + 2000);
        fs.utimesSync(file, later, later);
      }
      return client.upload(file, options);
    },
  };
  const report = await reconcile({ config: config(), ledger, remote, logger: silentLogger() });
  expect(report.failed).toEqual([]);
  expect(report.uploaded).toBe(2);
  expect(expects.every((e) => e !== undefined)).toBe(true);
  // Only two requests reach the API: a's stale first try is refused before anything is sent.
  expect(emu.state().requests['POST /v1/files']?.['200']).toBe(2);
  expect(emu.state().files.map((f) => f.sha256).sort()).toEqual([sha256('edited after the walk, longer'), sha256('steady')].sort());
  expect(ledger.fileByPath('a.txt')?.sha256).toBe(sha256('edited after the walk, longer'));
  expect(ledger.pendingDeletes()).toEqual([]);
  expect(ledger.inFlight()).toEqual([]);
});
