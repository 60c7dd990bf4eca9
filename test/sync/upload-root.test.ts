// The root's real path of an upload (issue 13, per-file cost): resolved once for a run's
// dependencies (executeDepsFor, or at the first upload of a deps object), not once per upload,
// with real parts: a temp folder behind a symlink, a ledger file, the emulator over HTTP.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createFilter } from '../../src/local/filter.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { executeDepsFor } from '../../src/sync/session.js';
import type { ExecuteDeps, UploadAction } from '../../src/sync/types.js';
import { uploadOne } from '../../src/sync/upload.js';
import { TEST_KEY, emulator, sha256, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
let real: string;
let link: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = fs.realpathSync(tempDir('fs-upload-root-'));
  real = path.join(dir, 'real-root');
  link = path.join(dir, 'root-link');
  fs.mkdirSync(real);
  fs.symlinkSync(real, link);
  ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
  client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
});
afterEach(async () => {
  ledger.close();
  await client.close();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The upload the planner would make of `rel` (a new file), from what the file is now. */
function uploadOf(rel: string): UploadAction {
  const abs = path.join(real, rel);
  const info = fs.statSync(abs);
  const local = { path: rel, size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, dev: info.dev, mimeType: 'text/plain' };
  return { path: rel, local: { ...local, sha256: sha256(fs.readFileSync(abs)) }, remoteName: rel, reason: 'new', replaces: null };
}

function deps(extra: Partial<ExecuteDeps>): ExecuteDeps {
  return { root: link, remote: client, ledger, logger: silentLogger(), concurrency: 1, maxFileBytes: 1 << 20, settleMs: 0, ...extra };
}

const context = (d: ExecuteDeps) => ({
  rehash: false,
  deps: d,
  signal: new AbortController().signal,
  sleep: () => Promise.resolve(),
  now: () => Date.now(),
});

describe("an upload's real root", () => {
  it('is the realRoot its dependencies bring, without resolving the root again', async () => {
    writeTree(real, { 'a.txt': 'alpha' });
    // The root as configured no longer resolves; the real path the caller resolved still holds the file.
    fs.rmSync(link);
    const outcome = await uploadOne(uploadOf('a.txt'), context(deps({ realRoot: real })));
    expect(outcome).toMatchObject({ kind: 'done', bytes: 5 });
    expect(emu.state().files.map((f) => f.filename)).toContain('a.txt');
  });

  it('is resolved once per dependencies object when none is given, not at every upload', async () => {
    writeTree(real, { 'a.txt': 'alpha', 'b.txt': 'beta' });
    const shared = deps({});
    expect(await uploadOne(uploadOf('a.txt'), context(shared))).toMatchObject({ kind: 'done' });
    // Resolved at the first upload: the second reads the same real root though the link is gone.
    fs.rmSync(link);
    expect(await uploadOne(uploadOf('b.txt'), context(shared))).toMatchObject({ kind: 'done' });
  });

  it('is resolved by executeDepsFor from the configured root', () => {
    const config = { ...loadConfig({ root: real, stateDir: path.join(dir, 'state') }, {}, dir), root: link };
    const parts = { remote: client, ledger, logger: silentLogger(), filter: createFilter({ include: [], exclude: [] }) };
    expect(executeDepsFor(config, parts).realRoot).toBe(real);
  });
});
