// A stop (Ctrl-C) during the scan of a dry run ends as an interruption (exit 130), not as an
// internal error: a review found that a pass the stop ended was reported from the execution, which
// a dry run does not have (a TypeError, exit 2).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { isInterruption } from '../../src/failure.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { ExitCode, SyncError } from '../../src/errors.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-review-dry-');
});
afterEach(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Ctrl-C during the scan of a dry run', () => {
  it('ends as an interruption (a report or the stop), not a TypeError', async () => {
    const root = path.join(dir, 'root');
    writeTree(root, Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`d/f${String(i).padStart(3, '0')}.txt`, `x${i}`])));
    const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0 };
    fs.mkdirSync(config.stateDir, { recursive: true });
    const ledger = Ledger.open(path.join(config.stateDir, 'ledger.db'));
    const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    const stop = new AbortController();
    try {
      const outcome = await reconcile({
        config,
        ledger,
        remote: client,
        logger: silentLogger(),
        dryRun: true,
        stop: stop.signal,
        onProgress: (phase, p) => {
          if (phase === 'scan' && p.filesDone >= 5 && !stop.signal.aborted) stop.abort(new SyncError('interrupted', ExitCode.interrupted));
        },
      }).then(
        (report) => ({ report, err: undefined as unknown }),
        (err: unknown) => ({ report: undefined, err }),
      );
      expect(stop.signal.aborted).toBe(true);
      if (outcome.err !== undefined) {
        // What sync.ts reports as "interrupted" (exit 130): anything else is its exit 2 or a crash.
        expect(outcome.err).not.toBeInstanceOf(TypeError);
        expect(isInterruption(outcome.err)).toBe(true);
      } else {
        expect(outcome.report!.exitCode).toBe(ExitCode.interrupted);
      }
    } finally {
      await client.close();
      ledger.close();
    }
  });
});
