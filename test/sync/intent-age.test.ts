// An intent written ahead (src/sync/intents.ts) waits in the queue while the uploads before it go
// on: when they take long, its window (rule 3) must still cover the copy its request makes, or a
// crash leaves that copy an orphan no run finds. Real emulator, folder and ledger file; the host's
// clock is the run's `now`, run 20 minutes behind until an upload "took" them.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, beforeFirstUpload, emulator, tempDir, waitFor, writeTree } from '../helpers/sync.js';

let emu: Emulator;
let dir: string;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-intent-age-');
});
afterEach(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(state: string): Config {
  const loaded = loadConfig({ root: path.join(dir, 'root'), stateDir: path.join(dir, state) }, {}, dir);
  return { ...loaded, settleSeconds: 0, concurrency: 1, requestsPerMinute: 100_000 };
}

const MINUTES_20 = 20 * 60_000;

describe('an intent written ahead and taken long after', () => {
  it('a crash during its upload: the next run adopts its copy, no duplicate, no orphan left', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `f${String(i).padStart(3, '0')}.txt`);
    writeTree(path.join(dir, 'root'), Object.fromEntries(names.map((n) => [n, `content of ${n}`])));
    const ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
    const client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
    let walked!: () => void;
    const scanned = new Promise<void>((resolve) => (walked = resolve));
    const stop = new AbortController();
    let lag = MINUTES_20;
    let uploads = 0;
    // The first upload waits for the whole walk, so the second writes the intents of all the
    // queued ones ahead; the second then takes 20 minutes; the third (written ahead 20 minutes
    // before) is sent, and the process dies as it is: the ledger file as it stands is the crash's.
    const remote = beforeFirstUpload(client, () => undefined);
    remote.upload = async (file, options) => {
      const n = ++uploads;
      if (n === 1) await scanned;
      if (n === 3) {
        await waitFor(() => ledger.fileByPath(names[1]!) !== undefined, 'the second upload recorded');
        fs.mkdirSync(path.join(dir, 'crashed'));
        for (const f of ['ledger.db', 'ledger.db-wal']) fs.copyFileSync(path.join(dir, 'state', f), path.join(dir, 'crashed', f));
        stop.abort();
      }
      const result = await client.upload(file, options);
      if (n === 2) lag = 0;
      return result;
    };
    try {
      const first = await reconcile({
        config: config('state'),
        ledger,
        remote,
        logger: silentLogger(),
        stop: stop.signal,
        now: () => Date.now() - lag,
        onProgress: (phase, p) => (phase === 'scan' && p.filesDone >= names.length ? walked() : undefined),
      });
      expect(first.uploaded).toBe(3);
      ledger.close();
      const crashed = Ledger.open(path.join(dir, 'crashed', 'ledger.db'));
      try {
        const next = await reconcile({ config: config('crashed'), ledger: crashed, remote: client, logger: silentLogger() });
        expect(next.failed).toEqual([]);
        // The third upload's copy is its own, adopted: not a stranger's file holding the path back.
        expect(next.alreadyRemote).toEqual([]);
        expect(next.adopted).toBe(1);
        expect(next.uploaded).toBe(names.length - 3);
        expect(
          emu
            .state()
            .files.map((f) => f.filename)
            .sort(),
        ).toEqual(names);
        expect(crashed.unclaimedCopies()).toEqual([]);
        expect(crashed.inFlight()).toEqual([]);
        expect(crashed.files()).toHaveLength(names.length);
        expect(next.exitCode).toBe(0);
      } finally {
        crashed.close();
      }
    } finally {
      ledger.close();
      await client.close();
    }
  });
});
