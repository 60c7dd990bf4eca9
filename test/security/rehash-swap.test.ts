// Rule 8 on the second read of a file that changed during its upload (uploadOne with `rehash`):
// it opens the path exactly where the walk found it, not anywhere under the root. A parent folder
// swapped for a link to the state directory (inside the root) or to an excluded folder must not get
// that file read and uploaded under the synced path's name (rules 8 and 9).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import type { RemoteFiles, UploadOptions, UploadResult } from '../../src/remote/types.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, sha256, tempDir } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
let root: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(async () => {
  emu = await emulator();
  dir = fs.realpathSync(tempDir('fs-rehash-'));
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
});
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `remote`, with `hook` run once right after the first upload was stored (before uploadOne's lstat). */
function afterFirstUpload(remote: RemoteFiles, hook: () => void): RemoteFiles {
  let hooked = false;
  return new Proxy(remote, {
    get(target, prop) {
      if (prop === 'upload') {
        return async (file: string, options: UploadOptions): Promise<UploadResult> => {
          const result = await target.upload(file, options);
          if (!hooked) {
            hooked = true;
            hook();
          }
          return result;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function storedShas(): Map<string, string> {
  return new Map(
    emu
      .state()
      .files.filter((f) => f.owner === 'self')
      .map((f) => [f.filename, f.sha256]),
  );
}

/** A ledger in `stateDir` and a client of the emulator, closed after the test. */
function ledgerAndClient(stateDir: string): { ledger: Ledger; client: FilesClient } {
  const ledger = Ledger.open(path.join(stateDir, 'ledger.db'));
  cleanups.push(() => ledger.close());
  const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
  cleanups.push(() => client.close());
  return { ledger, client };
}

describe('the re-read after a torn upload', () => {
  it('does not follow a parent swapped for a link to the state directory inside the root', async () => {
    const stateDir = path.join(root, '.state');
    const config: Config = { ...loadConfig({ root, stateDir }, {}, dir), settleSeconds: 0 };
    const { ledger, client } = ledgerAndClient(stateDir);
    fs.mkdirSync(path.join(root, 'sub'));
    const decoy = 'an innocent decoy';
    fs.writeFileSync(path.join(root, 'sub', 'ledger.db'), decoy);
    const remote = afterFirstUpload(client, () => {
      // The attacker: sub becomes a link to the state directory (both inside the root).
      fs.renameSync(path.join(root, 'sub'), path.join(root, 'sub.old'));
      fs.symlinkSync('.state', path.join(root, 'sub'));
    });
    await reconcile({ config, ledger, remote, logger: silentLogger() });
    const ledgerBytes = fs.readFileSync(path.join(stateDir, 'ledger.db'));
    const stored = storedShas();
    // Only the decoy's bytes may ever be stored; the state directory's ledger never.
    const foreign = [...stored].filter(([, sha]) => sha !== sha256(decoy));
    expect(foreign, `ledger sha ${sha256(ledgerBytes)}`).toEqual([]);
  });

  it('does not read a file of an excluded folder through a swapped parent', async () => {
    const config: Config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), exclude: ['private/'], settleSeconds: 0 };
    const { ledger, client } = ledgerAndClient(path.join(dir, 'state'));
    fs.mkdirSync(path.join(root, 'private'));
    const secret = 'EXCLUDED: never to be uploaded';
    fs.writeFileSync(path.join(root, 'private', 'notes.txt'), secret);
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub', 'notes.txt'), 'decoy');
    const remote = afterFirstUpload(client, () => {
      fs.renameSync(path.join(root, 'sub'), path.join(root, 'sub.old'));
      fs.symlinkSync('private', path.join(root, 'sub'));
    });
    await reconcile({ config, ledger, remote, logger: silentLogger() });
    expect([...storedShas()].filter(([, sha]) => sha === sha256(secret))).toEqual([]);
  });
});
