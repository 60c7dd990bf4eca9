// A run a stop ends during its pass reports the paths its walk skipped, as a whole run does: the
// first LISTED_MAX listed, all counted (a review found the interrupted report counted only those
// past LISTED_MAX, listed none, and its summary said "… and N more" of nothing).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LISTED_MAX } from '../../src/arrays.js';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { ExitCode, SyncError } from '../../src/errors.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { summaryLines } from '../../src/sync/report.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-review-skip-');
});
afterEach(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('an interrupted run after more than LISTED_MAX skipped links', () => {
  it('lists the first and counts them all, and the summary agrees', async () => {
    const root = path.join(dir, 'root');
    const LINKS = LISTED_MAX + 300;
    writeTree(root, Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`b/f${String(i).padStart(4, '0')}.txt`, `x${i}`])));
    fs.mkdirSync(path.join(root, 'a'));
    for (let i = 0; i < LINKS; i++) fs.symlinkSync('../b/f0000.txt', path.join(root, 'a', `l${String(i).padStart(4, '0')}`));
    const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0, concurrency: 1 };
    fs.mkdirSync(config.stateDir, { recursive: true });
    const ledger = Ledger.open(path.join(config.stateDir, 'ledger.db'));
    const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    const stop = new AbortController();
    try {
      const report = await reconcile({
        config,
        ledger,
        remote: client,
        logger: silentLogger(),
        stop: stop.signal,
        onProgress: (phase, p) => {
          if (phase === 'scan' && p.filesDone >= 20 && !stop.signal.aborted) stop.abort(new SyncError('interrupted', ExitCode.interrupted));
        },
      });
      expect(report.interrupted).not.toBeNull();
      // The links (a/) sort before the files (b/): the walk met all of them before the stop.
      expect(report.counts.skipped, JSON.stringify(report.counts)).toBe(LINKS);
      expect(report.skipped).toHaveLength(LISTED_MAX);
      expect(summaryLines(report)).toContain(`  … and ${LINKS - 10} more`);
    } finally {
      await client.close();
      ledger.close();
    }
  });
});
