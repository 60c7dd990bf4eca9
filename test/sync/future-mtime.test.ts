// Rule 5 when the clock that stamped the files runs ahead of this host's (an NFS server ahead, a
// tree unpacked from a machine whose clock was wrong): an mtime in the future cannot say how long
// a file has been still, so how long the run has seen it unchanged does. Each file used to wait a
// whole settle time of its own, holding an upload slot: 10,000 such files at the default 2 s and
// concurrency 8 waited 42 minutes. Real parts: a temp folder, a ledger file, the emulator over HTTP;
// only the executor's clock and sleep are the test's (so a minute's settle costs no real minute).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createFilter } from '../../src/local/filter.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { execute } from '../../src/sync/execute.js';
import { executeDepsFor } from '../../src/sync/session.js';
import { emptyPlan } from '../../src/sync/plan.js';
import type { UploadAction } from '../../src/sync/types.js';
import { settleWaitMs } from '../../src/sync/waits.js';
import { TEST_KEY, emulator, localHashes, sha256, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
let root: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = fs.realpathSync(tempDir('fs-future-mtime-'));
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
  ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
  client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
});
afterEach(async () => {
  ledger.close();
  await client.close();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const SETTLE_MS = 60_000;

/** The planner's upload of a new file, from what it is now. */
function uploadOf(rel: string): UploadAction {
  const abs = path.join(root, rel);
  const info = fs.statSync(abs);
  const local = { path: rel, size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, dev: info.dev, mimeType: 'text/plain' };
  return { path: rel, local: { ...local, sha256: sha256(fs.readFileSync(abs)) }, remoteName: rel, reason: 'new', replaces: null };
}

describe('files whose mtime lies in the future', () => {
  it('wait one settle time from when the run saw them, together, not one each', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `f${i}.txt`);
    writeTree(root, Object.fromEntries(names.map((n) => [n, `content of ${n}`])));
    const tomorrow = new Date(Date.now() + 86_400_000);
    for (const n of names) fs.utimesSync(path.join(root, n), tomorrow, tomorrow);

    // The test's clock moves only when a wait ends: a sleep ends on the next turn of the event loop
    // and moves the clock to the end it asked for, so sleeps taken together overlap and sleeps
    // taken one after another add up.
    const start = Date.now();
    let clock = start;
    const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: SETTLE_MS / 1000, concurrency: 2 };
    const deps = executeDepsFor(
      config,
      { remote: client, ledger, logger: silentLogger(), filter: createFilter({ include: [], exclude: [] }) },
      {
        now: () => clock,
        sleep: (ms) => {
          const end = clock + ms;
          return new Promise<void>((resolve) =>
            setImmediate(() => {
              clock = Math.max(clock, end);
              resolve();
            }),
          );
        },
      },
    );
    const plan = emptyPlan();
    plan.uploads.push(...names.map(uploadOf));
    const report = await execute(plan, deps);

    expect(report.failed).toEqual([]);
    expect(report.uploaded).toBe(names.length);
    expect(new Map(ledger.files().map((r) => [r.path, r.sha256]))).toEqual(localHashes(root));
    // Each file waited until it had been seen unchanged for the settle time, and no longer: one
    // settle time in all, not one per file (12 files, 2 at a time: 6 of them).
    expect(clock - start).toBeGreaterThanOrEqual(SETTLE_MS);
    expect(clock - start).toBeLessThan(2 * SETTLE_MS);
  });
});

describe('settleWaitMs', () => {
  const now = 1_000_000;
  it.each([
    ['an mtime older than the settle time', now - 5_000, undefined, 0],
    ['a young mtime: the rest of the settle time', now - 1_500, undefined, 500],
    ['a young mtime, seen longer ago than its mtime says: the mtime decides', now - 1_500, now - 1_900, 500],
    ['an mtime in the future, not yet seen: a whole settle time', now + 3_600_000, undefined, 2_000],
    ['an mtime in the future, seen 1.2 s ago: the rest', now + 3_600_000, now - 1_200, 800],
    ['an mtime in the future, seen long ago: none', now + 3_600_000, now - 60_000, 0],
  ])('%s', (_what, mtimeMs, seenAt, wait) => {
    expect(settleWaitMs(mtimeMs, seenAt, now, 2_000)).toBe(wait);
  });
});
