// The uploads' intents written in batches (src/sync/intents.ts), with real parts: the emulator over
// HTTP behind a loopback proxy (on its own thread) that looks into the ledger file as each upload
// arrives, a temp folder, a ledger file whose write transactions are counted in its WAL.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { walIo } from '../../src/ledger/durable.js';
import { Ledger, LedgerError } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { IntentBatch } from '../../src/sync/intents.js';
import { reconcile } from '../../src/sync/reconcile.js';
import type { UploadAction } from '../../src/sync/types.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
let ledgerFile: string;
let ledger: Ledger;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-intents-');
  fs.mkdirSync(path.join(dir, 'root'));
  ledgerFile = path.join(dir, 'state', 'ledger.db');
  ledger = Ledger.open(ledgerFile);
});
afterEach(async () => {
  ledger.close();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(concurrency: number): Config {
  return { ...loadConfig({ root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0, concurrency };
}

function manyFiles(n: number, version = ''): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`d${i % 4}/f${String(i).padStart(3, '0')}.txt`, `content of file ${i}${version}`]),
  );
}

/**
 * The write transactions committed to the ledger's WAL so far: its frames of the current salt that
 * end a commit (a frame header's second field is the database's size after the commit, else 0).
 */
function walCommits(file: string): number {
  const wal = fs.readFileSync(`${file}-wal`);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const [salt1, salt2] = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

/** What the proxy saw of one upload as it arrived: its filename and the committed intents of that name. */
interface Arrival {
  filename: string;
  committedIntents: number;
}

/**
 * The proxy's own thread (plain JS): a loopback server that, as each upload's body has arrived,
 * counts the intents of its filename that its own read-only connection to the ledger sees (only
 * committed rows are visible there), tells the test, and passes the request on once told to.
 */
const PROXY_THREAD = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
const observer = new Database(workerData.file, { readonly: true });
const count = observer.prepare('SELECT count(*) FROM uploads_in_flight WHERE remote_name = ?').pluck();
const waiting = new Map();
let seq = 0;
parentPort.on('message', (m) => {
  if (m.type === 'go') { waiting.get(m.seq)(); waiting.delete(m.seq); }
  if (m.type === 'close') { server.closeAllConnections(); server.close(() => { observer.close(); parentPort.close(); }); }
});
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    if (req.method === 'POST' && req.url.startsWith('/v1/files')) {
      const filename = (/filename="([^"]*)"/.exec(body.toString('utf8')) || [])[1] || '';
      const n = ++seq;
      const go = new Promise((resolve) => waiting.set(n, resolve));
      parentPort.postMessage({ type: 'arrival', seq: n, filename, committedIntents: count.get(filename) });
      await go;
    }
    const out = http.request({ host: '127.0.0.1', port: workerData.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode || 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (err) => res.destroy(err));
    out.end(body);
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
`;

/**
 * A loopback proxy in front of the emulator, on a thread of its own: it looks into the ledger
 * when an upload arrives, not when this thread's event loop gets round to it. `onUpload` runs for
 * each upload before it is passed on (to hold it).
 */
async function intentCheckingProxy(file: string, onUpload?: (a: Arrival) => Promise<void> | undefined) {
  const worker = new Worker(PROXY_THREAD, { eval: true, workerData: { file, port: emu.port } });
  const arrivals: Arrival[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m: { type: string; port: number; seq: number } & Arrival) => {
      if (m.type === 'listening') resolve(m.port);
      if (m.type !== 'arrival') return;
      const arrival = { filename: m.filename, committedIntents: m.committedIntents };
      arrivals.push(arrival);
      void Promise.resolve(onUpload?.(arrival)).then(() => worker.postMessage({ type: 'go', seq: m.seq }));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    close: async () => {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage({ type: 'close' });
      await exited;
    },
  };
}

/**
 * Holds uploads until the scan has walked `n` paths: the queue then holds more uploads than free
 * slots, so the next upload to start writes the intents of the queued ones ahead (with the
 * emulator in this process, the walk would otherwise rarely be ahead of the uploads).
 */
function afterScan(n: number) {
  let open!: () => void;
  const walked = new Promise<void>((resolve) => (open = resolve));
  return {
    walked,
    onProgress: (phase: 'scan' | 'sync', p: { filesDone: number }) => {
      if (phase === 'scan' && p.filesDone >= n) open();
    },
  };
}

describe('intents written in batches', () => {
  it('writes the intents of queued uploads together: far fewer commits than uploads', async () => {
    writeTree(path.join(dir, 'root'), manyFiles(96));
    const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    try {
      const before = walCommits(ledgerFile);
      const report = await reconcile({ config: config(2), ledger, remote: client, logger: silentLogger() });
      expect(report.uploaded).toBe(96);
      const commits = walCommits(ledgerFile) - before;
      // One intent commit a file would be 96 on its own, and the group commits of the finished
      // uploads and the run's own writes come on top. How many intents each commit holds follows
      // how far the walk is ahead of the uploads (a refill writes those queued since the last):
      // 35-36 commits here on a quiet machine, 44 in a CI run under load.
      expect(commits).toBeLessThan(72);
      expect(ledger.inFlight()).toEqual([]);
      expect(ledger.files()).toHaveLength(96);
    } finally {
      await client.close();
    }
  });

  it('writes intents ahead only as far as the request rate lets their uploads start within seconds', async () => {
    // The same run twice, each on a fresh ledger and new contents: the rate in the config sizes
    // the batches (one request a second: five seconds' worth, five intents; 100,000 a minute: all
    // the queued ones), while the client itself is unlimited, so both runs are quick.
    const commitsAt = async (requestsPerMinute: number): Promise<number> => {
      writeTree(path.join(dir, 'root'), manyFiles(60, ` at ${requestsPerMinute} a minute`));
      const file = path.join(dir, `state-${requestsPerMinute}`, 'ledger.db');
      const own = Ledger.open(file);
      const scan = afterScan(60);
      const proxy = await intentCheckingProxy(file, () => scan.walked);
      const client = new FilesClient({ baseUrl: proxy.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
      try {
        const before = walCommits(file);
        const report = await reconcile({
          config: { ...config(2), requestsPerMinute },
          ledger: own,
          remote: client,
          logger: silentLogger(),
          onProgress: scan.onProgress,
        });
        expect(report.uploaded).toBe(60);
        expect(proxy.arrivals.filter((a) => a.committedIntents !== 1)).toEqual([]);
        return walCommits(file) - before;
      } finally {
        await client.close();
        await proxy.close();
        own.close();
      }
    };
    const slow = await commitsAt(60);
    const fast = await commitsAt(100_000);
    // At one request a second, the ~58 uploads queued behind the first two take ~12 intent
    // commits of five; at 100,000 a minute, one or two. The group commits are alike in both.
    expect(slow - fast).toBeGreaterThanOrEqual(8);
  });

  it('no upload arrives at the API before its intent is committed', async () => {
    writeTree(path.join(dir, 'root'), manyFiles(60));
    const scan = afterScan(60);
    const proxy = await intentCheckingProxy(ledgerFile, () => scan.walked);
    const client = new FilesClient({ baseUrl: proxy.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    try {
      const report = await reconcile({ config: config(4), ledger, remote: client, logger: silentLogger(), onProgress: scan.onProgress });
      expect(report.uploaded).toBe(60);
      expect(proxy.arrivals).toHaveLength(60);
      expect(proxy.arrivals.filter((a) => a.committedIntents !== 1)).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('a run stopped with intents written ahead removes the ones whose uploads never left', async () => {
    writeTree(path.join(dir, 'root'), manyFiles(80));
    const scan = afterScan(80);
    const stop = new AbortController();
    // The first two uploads wait for the whole scan; the third (which wrote the queued uploads'
    // intents ahead) stops the run, so those intents are never taken.
    let arrived = 0;
    const proxy = await intentCheckingProxy(ledgerFile, () => {
      if (++arrived === 3) stop.abort();
      return scan.walked;
    });
    const client = new FilesClient({ baseUrl: proxy.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    try {
      const report = await reconcile({
        config: config(2),
        ledger,
        remote: client,
        logger: silentLogger(),
        stop: stop.signal,
        onProgress: scan.onProgress,
      });
      expect(report.interrupted).toBeTruthy();
      expect(report.uploaded).toBeLessThan(80);
      // Every upload that left was recorded; no intent outlives the run without its request.
      expect(ledger.files()).toHaveLength(report.uploaded);
      expect(ledger.inFlight()).toEqual([]);
      // The next run uploads the rest.
      const rest = await reconcile({ config: config(2), ledger, remote: client, logger: silentLogger() });
      expect(rest.uploaded).toBe(80 - report.uploaded);
      expect(ledger.inFlight()).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});

const action = (name: string, mimeType: string | null = 'text/plain'): UploadAction => ({
  path: name,
  remoteName: name,
  reason: 'new',
  replaces: null,
  local: { path: name, size: 5, mtimeMs: 1, ino: 7, sha256: 'a'.repeat(64), mimeType } as UploadAction['local'],
});

const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An IntentBatch of 4 with uploads named `names` queued (the one at `badAt` cannot have its intent written). */
const queuedBatch = (names: string[], badAt?: number) => {
  const batch = new IntentBatch(ledger, { maxBatch: 4, settleMs: 0, now: () => 1_000, clockOffsetMs: () => null, mayStart: () => true });
  // A NULL MIME type breaks the intent's NOT NULL column: the transaction writing it rolls back.
  const actions = names.map((name, i) => action(name, i === badAt ? null : 'text/plain'));
  for (const a of actions) batch.queued(a);
  const take = (a: UploadAction) => {
    batch.started(a);
    return batch.take(a, a.local);
  };
  return { batch, actions, take };
};

describe('IntentBatch writing ahead', () => {
  it('once half the intents written ahead are taken, writes the next ones in the background, never more than a batch ahead', async () => {
    const batch = new IntentBatch(ledger, { maxBatch: 8, settleMs: 0, now: () => 1_000, clockOffsetMs: () => null, mayStart: () => true });
    const actions = Array.from({ length: 20 }, (_, i) => action(`f${String(i).padStart(2, '0')}.txt`));
    for (const a of actions) batch.queued(a);
    const take = async (a: UploadAction) => {
      batch.started(a);
      return batch.take(a, a.local);
    };
    await take(actions[0]!); // its own and 7 ahead, in one transaction
    expect([batch.transactions, ledger.inFlight().length]).toEqual([1, 8]);
    for (const a of actions.slice(1, 5)) await take(a); // 3 left ahead: at most half
    await nextImmediate();
    // Written ahead without an upload asking: back to 8 not taken.
    expect([batch.transactions, ledger.inFlight().length]).toEqual([2, 13]);
    // Each upload after them (one an event loop turn, as requests go) finds its intent written
    // before it asks, and never more than 8 are written and not taken.
    for (const [i, a] of actions.slice(5).entries()) {
      const written = ledger.inFlight().find((r) => r.path === a.path);
      expect(written, a.path).toBeDefined();
      expect((await take(a)).inFlightId).toBe(written!.id);
      expect(ledger.inFlight().length - (6 + i)).toBeLessThanOrEqual(8);
      await nextImmediate();
    }
    // One transaction for each half batch of uploads at most, none of them an upload's own.
    expect(batch.transactions).toBeLessThanOrEqual(1 + Math.ceil(15 / 4));
  });

  it('release() cancels a write ahead not yet made and removes the ones not taken', async () => {
    const { batch, actions, take } = queuedBatch(Array.from({ length: 10 }, (_, i) => `f${i}.txt`));
    for (const a of actions.slice(0, 3)) await take(a); // the third leaves one ahead: a write ahead is due
    batch.release();
    await nextImmediate();
    expect(batch.transactions).toBe(1);
    expect(ledger.inFlight().map((r) => r.path)).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
  });
});

describe('IntentBatch writing ahead, on a write that fails', () => {
  it('a write ahead whose transaction fails is not lost: the next upload to take an intent meets its error', async () => {
    // a writes its own and b, c, d ahead; taking b and c leaves one: e (broken), f, g are written in the background.
    const { batch, actions, take } = queuedBatch(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 4);
    for (const a of actions.slice(0, 3)) await take(a);
    await nextImmediate();
    expect(ledger.inFlight().map((r) => r.path)).toEqual(['a', 'b', 'c', 'd']); // rolled back whole
    await expect(take(actions[3]!)).rejects.toThrow(/NOT NULL/);
    // Raised once: with e out of the queue (its upload failed), the next upload writes its own
    // intent (f's, with g's ahead).
    batch.started(actions[4]!);
    await take(actions[5]!);
    expect(ledger.inFlight().map((r) => r.path)).toEqual(['a', 'b', 'c', 'd', 'f', 'g']);
  });

  it("a write ahead whose fsync fails, its intents never taken, fails release() (the run's end) with the ledger fault", async () => {
    const { batch, actions, take } = queuedBatch(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    for (const a of actions.slice(0, 3)) await take(a);
    // The disk fails the next fsync: the background write's.
    const realSync = walIo.syncWal;
    walIo.syncWal = (file) => {
      walIo.syncWal = realSync;
      return Promise.reject(new LedgerError(`${file}: EIO at fsync`, 'io'));
    };
    try {
      await nextImmediate();
      expect(ledger.inFlight().map((r) => r.path)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      await nextImmediate();
      // The run stops (a user's Ctrl-C) before any upload takes those intents.
      expect(() => batch.release()).toThrow(/EIO at fsync/);
    } finally {
      walIo.syncWal = realSync;
    }
  });
});

describe('IntentBatch writing ahead, on an fsync that fails late', () => {
  it('settled() waits for a write ahead still being fsynced, so that release() raises its failure', async () => {
    const { batch, actions, take } = queuedBatch(Array.from({ length: 7 }, (_, i) => `f${i}.txt`));
    for (const a of actions.slice(0, 3)) await take(a);
    // The next fsync (the background write's) fails, but only once the test lets it.
    const realSync = walIo.syncWal;
    let fail!: () => void;
    walIo.syncWal = (file) => {
      walIo.syncWal = realSync;
      return new Promise<void>((_resolve, reject) => (fail = () => reject(new LedgerError(`${file}: EIO at fsync`, 'io'))));
    };
    try {
      await nextImmediate(); // the write ahead: committed, its fsync held
      expect(ledger.inFlight()).toHaveLength(7);
      let settled = false;
      const waiting = batch.settled().then(() => (settled = true));
      await nextImmediate();
      expect(settled).toBe(false);
      fail();
      await waiting;
      expect(() => batch.release()).toThrow(/EIO at fsync/);
    } finally {
      walIo.syncWal = realSync;
    }
  });
});

/**
 * The first write ahead made in the background (#writeAhead from the refill, not an upload's own
 * #writeBatch, told by the call stack) gets an fsync that fails `afterMs` later; `then` runs as
 * it is written. Returns how many were so treated (0 or 1).
 */
function failBackgroundFsync(afterMs: number, then: () => void): () => number {
  let injected = 0;
  const real = ledger.transactionSynced.bind(ledger);
  const ownSync = ledger.syncCommits.bind(ledger);
  ledger.transactionSynced = (fn) => {
    const stack = new Error().stack ?? '';
    if (injected > 0 || !stack.includes('writeAhead') || stack.includes('writeBatch')) return real(fn);
    injected++;
    ledger.syncCommits = () => {
      ledger.syncCommits = ownSync;
      return new Promise((_resolve, reject) => setTimeout(() => reject(new LedgerError('the ledger: EIO at fsync', 'io')), afterMs));
    };
    then();
    return real(fn);
  };
  return () => injected;
}

describe('a write ahead in the background whose fsync fails late, in a one-shot run (no fault listener)', () => {
  it('after the run was stopped and before any upload took its intents: the run ends with the LedgerError (exit 6)', async () => {
    writeTree(path.join(dir, 'root'), manyFiles(60));
    const scan = afterScan(60);
    const stop = new AbortController();
    const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    const upload = client.upload.bind(client);
    client.upload = async (...args) => {
      await scan.walked; // the queue fills: intents are written ahead
      return upload(...args);
    };
    // Its fsync fails 150 ms later; the user stops the run (Ctrl-C) at once.
    const injected = failBackgroundFsync(150, () => setImmediate(() => stop.abort()));
    try {
      const outcome = await reconcile({
        // 120 requests a minute: batches of 10 intents, so that refills come early.
        config: { ...config(2), requestsPerMinute: 120 },
        ledger,
        remote: client,
        logger: silentLogger(),
        stop: stop.signal,
        onProgress: scan.onProgress,
      }).catch((err: unknown) => err);
      expect(injected()).toBe(1);
      expect(outcome).toBeInstanceOf(LedgerError);
    } finally {
      await client.close();
    }
  });
});

describe('a ledger fault the uploads met, when the pass fails too', () => {
  it('a background fsync failure (exit 6) wins over the walk losing its root (exit 3)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 900; i++) files[`d${String(i % 300).padStart(3, '0')}/f${i}.txt`] = `content ${i}`;
    writeTree(path.join(dir, 'root'), files);
    const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    // Its fsync fails 50 ms later; the root goes away before the walk's end.
    const injected = failBackgroundFsync(50, () => fs.renameSync(path.join(dir, 'root'), path.join(dir, 'moved')));
    try {
      const outcome = await reconcile({ config: config(2), ledger, remote: client, logger: silentLogger() }).catch((err: unknown) => err);
      expect(injected()).toBe(1);
      expect(outcome).toBeInstanceOf(LedgerError);
    } finally {
      await client.close();
    }
  });
});

describe('a ledger fault the uploads met, after another error ended the run', () => {
  it('a background fsync failure (exit 6) wins over the API found unavailable (exit 5)', async () => {
    writeTree(path.join(dir, 'root'), manyFiles(60));
    const scan = afterScan(60);
    const client = new FilesClient({
      baseUrl: emu.url,
      apiKey: TEST_KEY,
      requestsPerMinute: 100_000,
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
    });
    const upload = client.upload.bind(client);
    client.upload = async (...args) => {
      await scan.walked; // the queue fills: intents are written ahead
      return upload(...args);
    };
    // Its fsync fails 500 ms later; meanwhile every request is answered 500: the run ends unavailable first.
    const injected = failBackgroundFsync(500, () => emu.setFaults({ rate500: 1 }));
    try {
      const outcome = await reconcile({
        config: { ...config(2), requestsPerMinute: 120 },
        ledger,
        remote: client,
        logger: silentLogger(),
        onProgress: scan.onProgress,
      }).catch((err: unknown) => err);
      expect(injected()).toBe(1);
      expect(outcome).toBeInstanceOf(LedgerError);
    } finally {
      emu.setFaults({});
      await client.close();
    }
  });
});

describe('IntentBatch on a write that fails', () => {
  it('an intent written ahead whose fsync took longer than its freshness is written again, not handed out', async () => {
    let now = 1_000;
    const batch = new IntentBatch(ledger, { maxBatch: 8, settleMs: 0, now: () => now, clockOffsetMs: () => null, mayStart: () => true });
    const [first, second] = [action('a.txt'), action('b.txt')];
    for (const a of [first, second]) batch.queued(a);
    // A disk that holds the batch's fsync until the test lets it go.
    const realSync = walIo.syncWal;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    walIo.syncWal = async (file, fd) => {
      walIo.syncWal = realSync;
      await held;
      return realSync(file, fd);
    };
    try {
      batch.started(first);
      const own = batch.take(first, first.local); // writes a.txt's intent and b.txt's ahead
      batch.started(second);
      const aheadTaken = batch.take(second, second.local); // b.txt's, written ahead: waits for the same fsync
      expect(ledger.inFlight().find((r) => r.path === 'b.txt')?.startedAt).toBe(1_000);
      now += 6_000; // the fsync ends past b.txt's freshness (5 s)
      release();
      await own;
      const intent = await aheadTaken;
      // Written again when its upload took it: its window opens now, and the early one is gone.
      const rows = ledger.inFlight().filter((r) => r.path === 'b.txt');
      expect(rows.map((r) => [r.id, r.startedAt])).toEqual([[intent.inFlightId, 7_000]]);
    } finally {
      walIo.syncWal = realSync;
    }
  });

  it('hands out no intent of a batch whose transaction rolled back: the next take writes its own, committed', async () => {
    const batch = new IntentBatch(ledger, { maxBatch: 8, settleMs: 0, now: () => 1_000, clockOffsetMs: () => null, mayStart: () => true });
    const [first, second, broken] = [action('a.txt'), action('b.txt'), action('c.txt', null)];
    for (const a of [first, second, broken]) batch.queued(a);
    batch.started(first);
    // The batch writes b.txt's intent, then fails on c.txt's (NOT NULL mime type): all of it rolls back.
    await expect(batch.take(first, first.local)).rejects.toThrow();
    expect(ledger.inFlight()).toHaveLength(0);
    batch.started(broken); // out of the queue, so that the next batch can commit
    batch.started(second);
    const intent = await batch.take(second, second.local);
    expect(ledger.inFlight().map((r) => r.id)).toContain(intent.inFlightId);
  });
});
