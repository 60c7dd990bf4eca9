// Rule 3 against a power cut: an upload's intent is committed durably (fsynced, SQLite's
// synchronous FULL for that commit) before its request leaves. The ledger's other commits stay
// NORMAL in WAL mode, which a killed process never loses but a power cut may take back: an intent
// lost that way left its copy a duplicate no one reported. Real parts: a ledger file, a temp
// folder, the emulator over HTTP.
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

const FULL = 2;
const NORMAL = 1;

let dir: string;
let ledger: Ledger;
beforeEach(() => {
  dir = tempDir('fs-durable-');
  ledger = Ledger.open(path.join(dir, 'state', 'ledger.db'));
});
afterEach(() => {
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

    it('are each written in a durable commit, whether in a batch or alone', async () => {
      const root = path.join(dir, 'root');
      writeTree(root, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}.txt`, `content ${i}`])));
      const levels: number[] = [];
      const begin = ledger.beginUpload.bind(ledger);
      ledger.beginUpload = (intent) => {
        levels.push(synchronous(ledger));
        return begin(intent);
      };
      for (const concurrency of [4, 1]) {
        const config = { ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0, concurrency };
        const report = await reconcile({ config, ledger, remote: client, logger: silentLogger() });
        expect(report.failed).toEqual([]);
        writeTree(root, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}.txt`, `content ${i}, round ${concurrency}`])));
      }
      expect(levels).toHaveLength(80);
      expect(new Set(levels)).toEqual(new Set([FULL]));
      expect(synchronous(ledger)).toBe(NORMAL);
    });
  });
});
