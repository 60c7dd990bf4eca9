// A file that changes between the walk and its upload: read from disk, the client refuses the stale
// version before sending anything (UploadOptions.expect); sent from the bytes the walk kept, the
// check after the upload sees the change. Either way the new version ends up remote, alone.
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

/** A remote that edits `name` once, just before its first upload goes to the client. */
function editingBeforeUpload(name: string, edited: string | Buffer, expects: (UploadOptions['expect'] | undefined)[]): RemoteFiles {
  let changed = false;
  return {
    list: (o) => client.list(o),
    get: (id, o) => client.get(id, o),
    delete: (id, o) => client.delete(id, o),
    download: (id, to, o) => client.download(id, to, o),
    upload(file, options) {
      expects.push(options.expect);
      if (!changed && file.endsWith(name)) {
        changed = true;
        fs.writeFileSync(file, edited);
        const later = new Date(Date.now() + 2000);
        fs.utimesSync(file, later, later);
      }
      return client.upload(file, options);
    },
  };
}

it('a file changed after the walk is hashed again and sent once, with no torn copy', async () => {
  // Over 64 KiB: the walk keeps no bytes of it, so the client reads it and checks `expect`.
  const walked = Buffer.alloc(100_000, 'w');
  const edited = Buffer.alloc(120_000, 'e');
  writeTree(path.join(dir, 'root'), { 'a.bin': walked, 'b.txt': 'steady' });
  const expects: (UploadOptions['expect'] | undefined)[] = [];
  const report = await reconcile({ config: config(), ledger, remote: editingBeforeUpload('a.bin', edited, expects), logger: silentLogger() });
  expect(report.failed).toEqual([]);
  expect(report.uploaded).toBe(2);
  expect(expects.every((e) => e !== undefined)).toBe(true);
  // Only two requests reach the API: a's stale first try is refused before anything is sent.
  expect(emu.state().requests['POST /v1/files']?.['200']).toBe(2);
  expect(emu.state().files.map((f) => f.sha256).sort()).toEqual([sha256(edited), sha256('steady')].sort());
  expect(ledger.fileByPath('a.bin')?.sha256).toBe(sha256(edited));
  expect(ledger.pendingDeletes()).toEqual([]);
  expect(ledger.inFlight()).toEqual([]);
});

it('a small file changed after the walk: the hashed bytes go out, the change is seen after, and the new version replaces them', async () => {
  // Small: the walk kept the bytes it hashed and the upload sends those, consistent with the hash.
  writeTree(path.join(dir, 'root'), { 'a.txt': 'walked version', 'b.txt': 'steady' });
  const report = await reconcile({ config: config(), ledger, remote: editingBeforeUpload('a.txt', 'edited after the walk, longer', []), logger: silentLogger() });
  expect(report.failed).toEqual([]);
  expect(report.uploaded).toBe(2);
  expect(emu.state().files.map((f) => f.sha256).sort()).toEqual([sha256('edited after the walk, longer'), sha256('steady')].sort());
  expect(ledger.fileByPath('a.txt')?.sha256).toBe(sha256('edited after the walk, longer'));
  expect(ledger.pendingDeletes()).toEqual([]);
  expect(ledger.inFlight()).toEqual([]);
});
