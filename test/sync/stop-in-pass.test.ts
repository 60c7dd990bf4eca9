// A stop (Ctrl-C) that ends a reconciliation's pass (the scan still going), as reconcile meets it:
// the report says what was done, as a whole run's does; a dry run, which has no execution to
// report, ends as the interruption (exit 130). Two reviews' findings: a dry run's stop ended in a
// TypeError (exit 2), and an interrupted run counted only the skipped paths past the list's 1,000
// and listed none.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LISTED_MAX } from '../../src/arrays.js';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { ExitCode, SyncError } from '../../src/errors.js';
import { isInterruption } from '../../src/failure.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import type { SyncReport } from '../../src/sync/outcome.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { summaryLines } from '../../src/sync/report.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-stop-in-pass-');
});
afterEach(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Reconciles `root` (concurrency 1) and stops once the scan has walked `after` paths: the report, or what reconcile threw. */
async function stoppedRun(root: string, after: number, dryRun: boolean): Promise<{ report?: SyncReport; err?: unknown }> {
  const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0, concurrency: 1 };
  fs.mkdirSync(config.stateDir, { recursive: true });
  const ledger = Ledger.open(path.join(config.stateDir, 'ledger.db'));
  const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
  const stop = new AbortController();
  try {
    return await reconcile({
      config,
      ledger,
      remote: client,
      logger: silentLogger(),
      dryRun,
      stop: stop.signal,
      onProgress: (phase, p) => {
        if (phase === 'scan' && p.filesDone >= after && !stop.signal.aborted)
          stop.abort(new SyncError('interrupted', ExitCode.interrupted));
      },
    }).then(
      (report) => ({ report }),
      (err: unknown) => ({ err }),
    );
  } finally {
    expect(stop.signal.aborted).toBe(true);
    await client.close();
    ledger.close();
  }
}

it('a dry run ends as an interruption (a report or the stop), not a TypeError', async () => {
  const root = path.join(dir, 'root');
  writeTree(root, Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`d/f${String(i).padStart(3, '0')}.txt`, `x${i}`])));
  const { report, err } = await stoppedRun(root, 5, true);
  if (err !== undefined) {
    // What sync.ts reports as "interrupted" (exit 130): anything else is its exit 2 or a crash.
    expect(err).not.toBeInstanceOf(TypeError);
    expect(isInterruption(err)).toBe(true);
  } else expect(report!.exitCode).toBe(ExitCode.interrupted);
});

it('after more than LISTED_MAX skipped links: lists the first and counts them all, and the summary agrees', async () => {
  const root = path.join(dir, 'root');
  const links = LISTED_MAX + 300;
  writeTree(root, Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`b/f${String(i).padStart(4, '0')}.txt`, `x${i}`])));
  fs.mkdirSync(path.join(root, 'a'));
  for (let i = 0; i < links; i++) fs.symlinkSync('../b/f0000.txt', path.join(root, 'a', `l${String(i).padStart(4, '0')}`));
  const { report, err } = await stoppedRun(root, 20, false);
  expect(err).toBeUndefined();
  expect(report!.interrupted).not.toBeNull();
  // The links (a/) sort before the files (b/): the walk met all of them before the stop.
  expect(report!.counts.skipped, JSON.stringify(report!.counts)).toBe(links);
  expect(report!.skipped).toHaveLength(LISTED_MAX);
  expect(summaryLines(report!)).toContain(`  … and ${links - 10} more`);
});
