// Rule 3 against a power cut: an upload's intent is durable (fsynced) before its request leaves.
// The ledger's commits run with NORMAL in WAL mode, which a killed process never loses but a power
// cut may take back: an intent lost that way left its copy a duplicate no one reported. The
// intents' commits are fsynced after the fact, on the thread pool (the WAL file), and no request
// leaves before that fsync has ended; `transaction(fn, true)` fsyncs as it commits (synchronous
// FULL). Real parts: a ledger file, a temp folder, the emulator over HTTP.
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { walIo } from '../../src/ledger/durable.js';
import { Ledger, LedgerError } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

// The WAL's fsync made to fail on demand (`failFsync.now`: a descriptor no file has, EBADF, as a
// failing disk's EIO would), and counted; the rest of durable.ts is the real one.
const realSyncWal = walIo.syncWal;
const failFsync = { now: false, failNext: 0, calls: 0 };
walIo.syncWal = (file: string, fd: number) => {
  failFsync.calls++;
  const fail = failFsync.now || failFsync.failNext-- > 0;
  return fail ? realSyncWal(file, 0x3fffffff) : realSyncWal(file, fd);
};

const FULL = 2;
const NORMAL = 1;

let dir: string;
let ledger: Ledger;
beforeEach(() => {
  dir = tempDir('fs-durable-');
  ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
});
afterEach(() => {
  failFsync.now = false;
  failFsync.failNext = 0;
  failFsync.calls = 0;
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The connection's synchronous level now. */
function synchronous(l: Ledger): number {
  return (l as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }) as number;
}

describe('durable commits', () => {
  it('a durable transaction commits with synchronous FULL, and the ledger goes back to NORMAL', () => {
    expect(synchronous(ledger)).toBe(NORMAL);
    expect(ledger.transaction(() => synchronous(ledger), true)).toBe(FULL);
    expect(ledger.transaction(() => synchronous(ledger))).toBe(NORMAL);
    expect(synchronous(ledger)).toBe(NORMAL);
    // Nested, it commits with the transaction around it.
    expect(ledger.transaction(() => ledger.transaction(() => synchronous(ledger), true))).toBe(NORMAL);
    // A throw inside still puts NORMAL back.
    expect(() =>
      ledger.transaction(() => {
        throw new Error('boom');
      }, true),
    ).toThrow('boom');
    expect(synchronous(ledger)).toBe(NORMAL);
  });

  it('a failed fsync holds for good: a later one that succeeds does not make later commits durable', async () => {
    const faults: LedgerError[] = [];
    ledger.onFault((err) => faults.push(err));
    failFsync.failNext = 1; // the first fsync fails, the disk answers the next ones with success
    const first = ledger.transactionSynced(() => ledger.setMeta('a', '1'));
    const second = ledger.transactionSynced(() => ledger.setMeta('b', '2'));
    await expect(first.synced).rejects.toThrow(LedgerError);
    await expect(second.synced).rejects.toBe(await first.synced.catch((err: unknown) => err));
    await expect(ledger.syncCommits()).rejects.toThrow('could not be made durable');
    expect(faults).toHaveLength(1);
    expect(faults[0]!.kind).toBe('io');
  });

  describe('the intents of a sync', () => {
    let emu: Emulator;
    let client: FilesClient;
    beforeEach(async () => {
      emu = await emulator();
      client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    });
    afterEach(async () => {
      await client.close();
      await emu.close();
    });

    it('leave for their requests only once a WAL fsync that began after their commit has ended, in a batch or alone', async () => {
      const root = path.join(dir, 'root');
      writeTree(root, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}.txt`, `content ${i}`])));
      // One timeline: intents written, fsyncs begun and ended, requests sent.
      const events: ({ kind: 'intent' | 'request'; path: string } | { kind: 'sync-start' | 'sync-end'; n: number })[] = [];
      const begin = ledger.beginUpload.bind(ledger);
      ledger.beginUpload = (intent) => {
        events.push({ kind: 'intent', path: intent.path });
        return begin(intent);
      };
      const syncCommits = ledger.syncCommits.bind(ledger);
      let syncs = 0;
      ledger.syncCommits = async () => {
        const n = syncs++;
        events.push({ kind: 'sync-start', n });
        await syncCommits();
        events.push({ kind: 'sync-end', n });
      };
      const upload = client.upload.bind(client);
      client.upload = (file, options) => {
        events.push({ kind: 'request', path: options.filename });
        return upload(file, options);
      };
      for (const concurrency of [4, 1]) {
        const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0, concurrency };
        const report = await reconcile({ config, ledger, remote: client, logger: silentLogger() });
        expect(report.failed).toEqual([]);
        expect(report.uploaded).toBe(40);
        writeTree(root, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}.txt`, `content ${i}, round ${concurrency}`])));
      }
      const requests = events.flatMap((e, at) => (e.kind === 'request' ? [{ path: e.path, at }] : []));
      expect(requests).toHaveLength(80);
      for (const { path: sent, at } of requests) {
        const intentAt = events.findLastIndex((e, i) => i < at && e.kind === 'intent' && e.path === sent);
        expect(intentAt).toBeGreaterThanOrEqual(0);
        const endOf = (n: number) => events.findIndex((f) => f.kind === 'sync-end' && f.n === n);
        const durable = events.some((e, i) => e.kind === 'sync-start' && i > intentAt && endOf(e.n) !== -1 && endOf(e.n) < at);
        expect(durable, `the request for ${sent} left before its intent was fsynced`).toBe(true);
      }
      // The intents' commits hold no fsync themselves (the ledger stays NORMAL): their WAL's is the one.
      expect(synchronous(ledger)).toBe(NORMAL);
      expect(failFsync.calls).toBe(syncs);
    });

    it('send nothing when the fsync of their commit fails: the run stops on a fatal ledger fault', async () => {
      const root = path.join(dir, 'root');
      writeTree(root, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, `content ${i}`])));
      const faults: LedgerError[] = [];
      ledger.onFault((err) => faults.push(err));
      // The disk refuses the WAL's fsync (as a failing disk does: EIO), from now on.
      failFsync.now = true;
      const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0, concurrency: 4 };
      await expect(reconcile({ config, ledger, remote: client, logger: silentLogger() })).rejects.toThrow(LedgerError);
      expect(emu.state().files).toEqual([]);
      expect(faults.map((f) => f.kind)).toContain('io');
      expect(faults[0]!.message).toContain('could not be made durable');
    });
  });
});
