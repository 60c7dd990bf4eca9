// The executor with real parts (the emulator over HTTP, a temp folder, a ledger file): rule 5
// (stable files only) and the in-process reconcile that `sync` and the daemon share. A file that
// changes between the walk and its upload: read from disk, the client refuses the stale version
// before sending anything (UploadOptions.expect); sent from the bytes the walk kept, the check
// after the upload sees the change. Either way the new version ends up remote, alone.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { UnavailableError } from '../../src/remote/errors.js';
import type { RemoteFiles, UploadOptions, UploadResult } from '../../src/remote/types.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, localHashes, sha256, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-exec-');
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

/** A RemoteFiles that runs `before` ahead of each upload it forwards: a file changing under its upload. */
function changingUnder(remote: RemoteFiles, before: (path: string, n: number) => void): RemoteFiles {
  let n = 0;
  return {
    list: (o) => remote.list(o),
    get: (id, o) => remote.get(id, o),
    delete: (id, o) => remote.delete(id, o),
    download: (id, to, o) => remote.download(id, to, o),
    async upload(file: string, options: UploadOptions): Promise<UploadResult> {
      const result = await remote.upload(file, options);
      before(file, n++);
      return result;
    },
  };
}

/** The client, with the first file it uploads rewritten (longer, newer) right after the upload. */
function rewrittenAtFirstUpload(remote: RemoteFiles): RemoteFiles {
  return changingUnder(remote, (file, n) => {
    if (n === 0) {
      fs.writeFileSync(file, 'second version, longer');
      const later = new Date(Date.now() + 2000);
      fs.utimesSync(file, later, later);
    }
  });
}

function config(settleSeconds = 0): Config {
  return { ...loadConfig({ root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds };
}

describe('execute', () => {
  it('a file that changed during its upload is uploaded again and the torn copy deleted', async () => {
    writeTree(path.join(dir, 'root'), { 'a.txt': 'first version' });
    const remote = rewrittenAtFirstUpload(client);
    const report = await reconcile({ config: config(), ledger, remote, logger: silentLogger() });
    expect(report.failed).toEqual([]);
    expect(report.uploaded).toBe(1);
    const files = emu.state().files;
    expect(files).toHaveLength(1); // the torn upload is gone
    expect(files[0]!.sha256).toBe(sha256('second version, longer'));
    expect(ledger.fileByPath('a.txt')?.sha256).toBe(sha256('second version, longer'));
    expect(ledger.pendingDeletes()).toEqual([]);
    expect(ledger.inFlight()).toEqual([]);
  });

  it('a file moved away during its upload: its copy is deleted in the same run, not left for the next reconciliation', async () => {
    writeTree(path.join(dir, 'root'), { 'a.txt': 'moved away mid-upload', 'keep.txt': 'kept' });
    const remote = changingUnder(client, (file) => {
      if (file.endsWith('a.txt')) fs.renameSync(file, path.join(dir, 'elsewhere.txt'));
    });
    const report = await reconcile({ config: config(), ledger, remote, logger: silentLogger() });
    expect(report.failed).toEqual([{ path: 'a.txt', reason: expect.stringMatching(/disappeared during its upload/) as string }]);
    expect(emu.state().files.map((f) => f.filename)).toEqual(['keep.txt']);
    expect(ledger.pendingDeletes()).toEqual([]);
    expect(ledger.inFlight()).toEqual([]);
  });

  it("a moved file that changed during its new path's upload: no copy of the old content is stored, so its old copy waits", async () => {
    writeTree(path.join(dir, 'root'), { 'a.txt': 'first version' });
    expect((await reconcile({ config: config(), ledger, remote: client, logger: silentLogger() })).uploaded).toBe(1);
    fs.renameSync(path.join(dir, 'root', 'a.txt'), path.join(dir, 'root', 'b.txt'));
    const remote = rewrittenAtFirstUpload(client);
    const report = await reconcile({ config: config(), ledger, remote, logger: silentLogger() });
    expect(report.failed).toEqual([]);
    expect(report.movesWaiting).toBe(1);
    const names = emu.state().files.map((f) => [f.filename, f.sha256]);
    expect(names.sort()).toEqual([
      ['a.txt', sha256('first version')],
      ['b.txt', sha256('second version, longer')],
    ]);
    // Nothing pairs with the old row any more: the next run counts it as a deletion, and makes it.
    const next = await reconcile({ config: config(), ledger, remote: client, logger: silentLogger() });
    expect(next.deleted).toBe(1);
    expect(emu.state().files.map((f) => f.filename)).toEqual(['b.txt']);
  });

  it('waits for a young file to settle before reading it', async () => {
    writeTree(path.join(dir, 'root'), { 'fresh.txt': 'just written' });
    const started = Date.now();
    const report = await reconcile({ config: config(1), ledger, remote: client, logger: silentLogger() });
    expect(report.uploaded).toBe(1);
    const uploadedAt = Date.parse(emu.state().files[0]!.created_at);
    const mtime = fs.statSync(path.join(dir, 'root', 'fresh.txt')).mtimeMs;
    expect(uploadedAt - mtime).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('one bad file does not stop the others, and its failure is recorded for status', async () => {
    writeTree(path.join(dir, 'root'), { 'good-1.txt': '1', 'good-2.txt': '2', 'bad.txt': 'x' });
    const failing: RemoteFiles = {
      ...changingUnder(client, () => undefined),
      upload: (file, options) =>
        file.endsWith('bad.txt')
          ? Promise.reject(Object.assign(new Error('invalid_request_error: refused'), { status: 400, retryable: false }))
          : client.upload(file, options),
    };
    const report = await reconcile({ config: config(), ledger, remote: failing, logger: silentLogger() });
    expect(report.uploaded).toBe(2);
    expect(report.failed).toEqual([{ path: 'bad.txt', reason: 'invalid_request_error: refused' }]);
    expect(report.exitCode).toBe(1);
    // With the content it was sending: a move's old copy waits on it (daemon/waiting-moves.ts).
    expect(ledger.failures()).toEqual([expect.objectContaining({ path: 'bad.txt', retryable: false, sha256: sha256('x') })]);
    expect(new Set(ledger.files().map((r) => r.path))).toEqual(new Set(['good-1.txt', 'good-2.txt']));
    // Unchanged, it waits for the file to change; changed, it goes again.
    const again = await reconcile({ config: config(), ledger, remote: failing, logger: silentLogger() });
    expect(again.failed[0]?.reason).toMatch(/waiting for the file to change/);
    fs.writeFileSync(path.join(dir, 'root', 'bad.txt'), 'fixed');
    const fixed = await reconcile({ config: config(), ledger, remote: client, logger: silentLogger() });
    expect(fixed.failed).toEqual([]);
    expect(new Map(ledger.files().map((r) => [r.path, r.sha256]))).toEqual(localHashes(path.join(dir, 'root')));
  });

  it('one file the API keeps failing on is recorded and does not stop the others; a streak ends the run', async () => {
    writeTree(path.join(dir, 'root'), Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}.txt`, `file ${i}`])));
    const unavailable = () => new UnavailableError(5, 'timeout_error: no answer', { type: 'timeout_error' });
    const oneBad: RemoteFiles = {
      ...changingUnder(client, () => undefined),
      upload: (file, options) => (file.endsWith('f3.txt') ? Promise.reject(unavailable()) : client.upload(file, options)),
    };
    const report = await reconcile({ config: config(), ledger, remote: oneBad, logger: silentLogger() });
    expect(report.uploaded).toBe(11);
    expect(report.failed.map((f) => f.path)).toEqual(['f3.txt']);
    expect(report.exitCode).toBe(1);
    // The API failed, not the file: a first failure holds nothing (the daemon retries it once the API answers).
    expect(ledger.failures()).toEqual([expect.objectContaining({ path: 'f3.txt', retryable: true, attempts: 1, nextRetryAt: null })]);

    fs.writeFileSync(path.join(dir, 'root', 'new-1.txt'), 'n1');
    fs.writeFileSync(path.join(dir, 'root', 'new-2.txt'), 'n2');
    const down: RemoteFiles = { ...oneBad, upload: () => Promise.reject(unavailable()) };
    await expect(reconcile({ config: config(), ledger, remote: down, logger: silentLogger() })).rejects.toThrow(/remote unavailable/);
    // Each failure was recorded before the run ended; f3.txt's second in a row backs off.
    expect(
      ledger
        .failures()
        .map((f) => f.path)
        .sort(),
    ).toEqual(['f3.txt', 'new-1.txt', 'new-2.txt']);
    expect(ledger.failure('f3.txt')).toMatchObject({ attempts: 2, nextRetryAt: expect.any(Number) });
  });

  it('a file newly excluded is deleted remotely, like a deleted one', async () => {
    writeTree(path.join(dir, 'root'), { 'keep.txt': 'k', 'debug.log': 'noise' });
    await reconcile({ config: config(), ledger, remote: client, logger: silentLogger() });
    expect(emu.state().files).toHaveLength(2);
    const excluding = { ...config(), exclude: ['*.log'] };
    const report = await reconcile({ config: excluding, ledger, remote: client, logger: silentLogger() });
    expect(report.deleted).toBe(1);
    expect(emu.state().files.map((f) => f.filename)).toEqual(['keep.txt']);
    expect(ledger.files().map((r) => r.path)).toEqual(['keep.txt']);
  });

  it('a root on another device deletes nothing, run after run, until --allow-mass-delete accepts it', async () => {
    writeTree(path.join(dir, 'root'), { 'a.txt': 'a', 'b.txt': 'b' });
    await reconcile({ config: config(), ledger, remote: client, logger: silentLogger() });
    ledger.setMetaJson('root_identity', { dev: 424242, ino: 1 }); // as if another disk had been mounted there
    fs.rmSync(path.join(dir, 'root', 'a.txt'));
    for (let run = 0; run < 2; run++) {
      const report = await reconcile({ config: config(), ledger, remote: client, logger: silentLogger() });
      expect(report.deleted).toBe(0);
      expect(report.deletesBlocked).toMatch(/another device/);
      expect(report.exitCode).toBe(3);
    }
    const accepted = await reconcile({
      config: config(),
      ledger,
      remote: client,
      logger: silentLogger(),
      allowMassDelete: true,
    });
    expect(accepted.deleted).toBe(1);
    expect(ledger.getMetaJson<{ dev: number }>('root_identity')?.dev).toBe(fs.statSync(path.join(dir, 'root')).dev);
  });
});

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

describe('a file changed between the walk and its upload', () => {
  it('a file changed after the walk is hashed again and sent once, with no torn copy', async () => {
    // Over 64 KiB: the walk keeps no bytes of it, so the client reads it and checks `expect`.
    const walked = Buffer.alloc(100_000, 'w');
    const edited = Buffer.alloc(120_000, 'e');
    writeTree(path.join(dir, 'root'), { 'a.bin': walked, 'b.txt': 'steady' });
    const expects: (UploadOptions['expect'] | undefined)[] = [];
    const report = await reconcile({
      config: config(),
      ledger,
      remote: editingBeforeUpload('a.bin', edited, expects),
      logger: silentLogger(),
    });
    expect(report.failed).toEqual([]);
    expect(report.uploaded).toBe(2);
    expect(expects.every((e) => e !== undefined)).toBe(true);
    // Only two requests reach the API: a's stale first try is refused before anything is sent.
    expect(emu.state().requests['POST /v1/files']?.['200']).toBe(2);
    expect(
      emu
        .state()
        .files.map((f) => f.sha256)
        .sort(),
    ).toEqual([sha256(edited), sha256('steady')].sort());
    expect(ledger.fileByPath('a.bin')?.sha256).toBe(sha256(edited));
    expect(ledger.pendingDeletes()).toEqual([]);
    expect(ledger.inFlight()).toEqual([]);
  });

  it('a small file changed after the walk: the hashed bytes go out, the change is seen after, and the new version replaces them', async () => {
    // Small: the walk kept the bytes it hashed and the upload sends those, consistent with the hash.
    writeTree(path.join(dir, 'root'), { 'a.txt': 'walked version', 'b.txt': 'steady' });
    const report = await reconcile({
      config: config(),
      ledger,
      remote: editingBeforeUpload('a.txt', 'edited after the walk, longer', []),
      logger: silentLogger(),
    });
    expect(report.failed).toEqual([]);
    expect(report.uploaded).toBe(2);
    expect(
      emu
        .state()
        .files.map((f) => f.sha256)
        .sort(),
    ).toEqual([sha256('edited after the walk, longer'), sha256('steady')].sort());
    expect(ledger.fileByPath('a.txt')?.sha256).toBe(sha256('edited after the walk, longer'));
    expect(ledger.pendingDeletes()).toEqual([]);
    expect(ledger.inFlight()).toEqual([]);
  });
});
