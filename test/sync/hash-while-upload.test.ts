// A large new file that cannot be a move is read once (issue 13): the walk leaves it unhashed, the
// upload hashes what it sends, and the ledger records that hash; a torn upload is still caught; and
// rule 3 for an intent without a hash (a crash, lost answers). Real emulator, folder and ledger file.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import type { RemoteFiles, UploadOptions, UploadResult } from '../../src/remote/types.js';
import { reconcile, type SyncReport } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, tempDir } from '../helpers/sync.js';

const MIB = 1024 * 1024;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let emu: Emulator;
let dir: string;
let root: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-hashup-');
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
  ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
  client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000, retry: { baseDelayMs: 5, maxDelayMs: 50 } });
});
afterEach(async () => {
  ledger.close();
  await client.close();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(): Config {
  return { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0 };
}

/** `size` bytes that vary with `seed`, written at `rel`. */
function put(rel: string, size: number, seed = 1): Buffer {
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) data[i] = (i * seed + (i >> 11)) & 0xff;
  fs.writeFileSync(path.join(root, rel), data);
  return data;
}

/** One reconciliation, with the bytes its walk read to hash. */
async function sync(remote: RemoteFiles = client): Promise<{ report: SyncReport; bytesHashed: number }> {
  let bytesHashed = -1;
  const report = await reconcile({
    config: config(),
    ledger,
    remote,
    logger: silentLogger(),
    onProgress: (phase, p) => {
      if (phase === 'scan') bytesHashed = p.bytesDone;
    },
  });
  return { report, bytesHashed };
}

const stored = () => emu.state().files.map((f) => ({ id: f.id, sha256: f.sha256 }));

describe('a large new file is hashed by its upload', () => {
  it('a new 20 MiB file is read once: the walk hashes none of it, the ledger records the sha256 of what was sent', async () => {
    const data = put('big.bin', 20 * MIB);
    const first = await sync();
    expect(first.report.failed).toEqual([]);
    expect(first.report.uploaded).toBe(1);
    expect(first.bytesHashed).toBe(0);
    const row = ledger.fileByPath('big.bin');
    expect(row?.sha256).toBe(sha(data));
    expect(stored()).toEqual([{ id: row!.fileId, sha256: sha(data) }]);
    expect(ledger.inFlight()).toEqual([]);
    // Known now: the next run neither reads nor sends it.
    const again = await sync();
    expect(again.report.uploaded).toBe(0);
    expect(again.bytesHashed).toBe(0);
  });

  it('a new 20 MiB file with a ledger row of the same size elsewhere is hashed by the walk (it may be a move)', async () => {
    put('a.bin', 20 * MIB, 1);
    await sync();
    const b = put('b.bin', 20 * MIB, 3);
    const second = await sync();
    expect(second.report.uploaded).toBe(1);
    expect(second.bytesHashed).toBe(20 * MIB);
    expect(ledger.fileByPath('b.bin')?.sha256).toBe(sha(b));
  });

  it('a torn large upload is detected: its copy deleted, the file sent again and recorded as it is', async () => {
    const file = path.join(root, 'big.bin');
    put('big.bin', 12 * MIB, 1);
    let uploads = 0;
    const changing: RemoteFiles = {
      list: (o) => client.list(o),
      get: (id, o) => client.get(id, o),
      delete: (id, o) => client.delete(id, o),
      download: (id, to, o) => client.download(id, to, o),
      clockOffsetMs: () => client.clockOffsetMs(),
      async upload(p: string, options: UploadOptions): Promise<UploadResult> {
        const result = await client.upload(p, options);
        if (uploads++ === 0) {
          put('big.bin', 12 * MIB, 5); // the same size, other bytes, a later mtime
          const later = new Date(Date.now() + 2000);
          fs.utimesSync(file, later, later);
        }
        return result;
      },
    };
    const { report } = await sync(changing);
    expect(report.failed).toEqual([]);
    expect(report.uploaded).toBe(1);
    const now = sha(fs.readFileSync(file));
    expect(ledger.fileByPath('big.bin')?.sha256).toBe(now);
    expect(stored()).toEqual([{ id: ledger.fileByPath('big.bin')!.fileId, sha256: now }]); // the torn copy is gone
    expect(ledger.pendingDeletes()).toEqual([]);
    expect(ledger.inFlight()).toEqual([]);
  });
});

describe('rule 3 for an intent hashed by its upload', () => {
  /** The state a SIGKILL leaves after the copy was stored: the intent (no hash), the copy, no record. */
  async function crashAfterUpload(rel: string): Promise<string> {
    for await (const file of client.list()) void file; // the server's clock offset, as a run has it
    const st = fs.statSync(path.join(root, rel));
    ledger.beginUpload({
      path: rel,
      remoteName: rel,
      size: st.size,
      sha256: null,
      mimeType: 'application/octet-stream',
      startedAt: Date.now(),
      clockOffsetMs: client.clockOffsetMs() ?? null,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
    });
    return (await client.upload(path.join(root, rel), { filename: rel, mimeType: 'application/octet-stream', hash: true })).file.id;
  }

  it('a crash: the next run hashes the file of the intent and adopts the copy, uploading nothing', async () => {
    const data = put('big.bin', 9 * MIB);
    const copy = await crashAfterUpload('big.bin');
    const { report, bytesHashed } = await sync();
    expect(report.failed).toEqual([]);
    expect(report.adopted).toBe(1);
    expect(report.uploaded).toBe(0);
    expect(bytesHashed).toBe(9 * MIB); // the rare path: hashed now
    expect(ledger.fileByPath('big.bin')).toMatchObject({ fileId: copy, sha256: sha(data) });
    expect(stored()).toEqual([{ id: copy, sha256: sha(data) }]);
    expect(ledger.inFlight()).toEqual([]);
  });

  it('a crash, then the file changed: the copy is ours and deleted, the file uploaded as it is', async () => {
    put('big.bin', 9 * MIB);
    const copy = await crashAfterUpload('big.bin');
    const now = put('big.bin', 9 * MIB, 7);
    const later = new Date(Date.now() + 2000);
    fs.utimesSync(path.join(root, 'big.bin'), later, later);
    const { report } = await sync();
    expect(report.adopted).toBe(0);
    expect(report.uploaded).toBe(1);
    const row = ledger.fileByPath('big.bin');
    expect(row?.sha256).toBe(sha(now));
    expect(row?.fileId).not.toBe(copy);
    expect(stored()).toEqual([{ id: row!.fileId, sha256: sha(now) }]);
    expect(ledger.inFlight()).toEqual([]);
  });

  it('lost answers: the sweep of the same run hashes the unchanged file, adopts one copy and deletes the rest', async () => {
    const data = put('big.bin', 9 * MIB);
    emu.setFaults({ lostUploadAnswer: 1 });
    const first = await sync();
    expect(first.report.uploaded).toBe(0);
    // Every answer was lost (5 attempts, 5 copies): the sweep reads the file once (its intent
    // recorded no hash), finds it unchanged since the intent, and keeps exactly one copy.
    expect(first.report.adopted).toBe(1);
    const row = ledger.fileByPath('big.bin');
    expect(row?.sha256).toBe(sha(data));
    expect(stored()).toEqual([{ id: row!.fileId, sha256: sha(data) }]);
    expect(ledger.inFlight()).toEqual([]);
    expect(ledger.unclaimedCopies()).toEqual([]);

    emu.setFaults({});
    const second = await sync();
    expect(second.report.failed).toEqual([]);
    expect(second.report.adopted).toBe(0);
    expect(second.report.uploaded).toBe(0);
    expect(stored()).toEqual([{ id: row!.fileId, sha256: sha(data) }]);
    expect(ledger.pendingDeletes()).toEqual([]);
  });
});
