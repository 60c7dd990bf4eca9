// The deletes a reconciliation's pass collects live in the ledger's temp tables, not in the heap
// (issue 13): a 369,521-row cleanup held ~480 B a row before its first delete, a re-rooted
// 1,000,000-file tree 716 MB. The pass keeps counts; a held verdict needs only them (and a sample
// of ten paths to show); an allowed one is fed to the executor a page at a time. Real parts: a
// ledger file, a real folder, the emulator over HTTP.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { SortedWalk } from '../../src/local/sorted-walk.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { applyPassJudgement, judgePass } from '../../src/sync/collected.js';
import { Execution } from '../../src/sync/execute.js';
import { reportOfPlan } from '../helpers/report.js';
import { emptyPlan } from '../../src/sync/plan.js';
import { summaryLines } from '../../src/sync/report.js';
import { passScanOptions, planOptionsFor } from '../../src/sync/session.js';
import { runPass } from '../../src/sync/stream.js';
import { TEST_KEY, emulator, gatedDeletes, tempDir, testExecuteDeps, writeTree } from '../helpers/sync.js';

const GONE = 300_000;

/** Writes `n` rows under `gone/` straight into the ledger's file (no walk, no upload: only their count matters). */
function fillGone(file: string, n: number): void {
  Ledger.open(file).close(); // creates and migrates it
  const db = new Database(file);
  const insert = db.prepare(`INSERT INTO files (path, file_id, size, mtime_ms, ino, sha256, mime_type, remote_name, uploaded_at)
    VALUES (?, ?, 10, 1, ?, ?, 'text/plain', ?, '2026-11-01T00:00:00.000000Z')`);
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const p = `gone/${String(i).padStart(7, '0')}.txt`;
      insert.run(p, `file_${String(i).padStart(24, '0')}`, i + 10, `h${i}`.padEnd(64, '0'), p.replaceAll('/', '∕'));
    }
  })();
  db.close();
}

let dir: string;
let root: string;
const ledgerFile = () => path.join(dir, 'state', 'ledger.db');
const config = (): Config => ({ ...loadConfig({ root, stateDir: path.join(dir, 'state') }, {}, dir), settleSeconds: 0 });
beforeEach(() => {
  dir = tempDir('fs-collected-');
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
  fs.mkdirSync(path.join(dir, 'state'), { mode: 0o700 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('deletes collected by the pass', () => {
  it(`${GONE} gone rows: the pass result holds counts, the held plan a count and ten paths`, async () => {
    fillGone(ledgerFile(), GONE);
    writeTree(root, { 'kept.txt': 'still here' });
    const ledger = Ledger.open(ledgerFile(), { readOnly: true });
    try {
      const c = config();
      const options = planOptionsFor(c, { now: Date.now() });
      const plan = emptyPlan();
      const walk = await SortedWalk.open(root, { filter: () => true, followSymlinks: false });
      const tracked = ledger.fileCount();
      const pass = await runPass({
        ledger,
        tracked,
        walk,
        scan: passScanOptions(c, ledger, { filter: () => true }),
        options,
        adoptedPaths: new Set(),
        failures: new Map(),
        exec: null,
        countOnly: true,
        ledgerTrusted: true,
        plan,
        logger: silentLogger(),
      });
      expect(pass.gone).toBe(GONE);
      expect(pass.uploads).toBe(1);
      // No per-row array left in the result: only the walk's (small) skips and restore paths.
      for (const [key, value] of Object.entries(pass)) if (Array.isArray(value)) expect(value.length, key).toBe(0);

      const judged = judgePass(pass, walk.complete, { tracked, options, ledger });
      expect(judged.verdict).toMatchObject({ kind: 'held', count: GONE });
      applyPassJudgement(judged, plan, { ledger, exec: null, pass });
      expect(plan.deletes).toEqual([]);
      expect(plan.held?.count).toBe(GONE);
      expect(plan.held?.reason).toMatch(/^300000 files deleted locally, more than deletes.maxCount/);
      expect(plan.held?.paths).toEqual(Array.from({ length: 10 }, (_, i) => `gone/${String(i).padStart(7, '0')}.txt`));
      // The summary shows the ten and counts the rest; the report (kept as the last sync) holds no more.
      const report = reportOfPlan(plan);
      expect(report.held).toMatchObject({ count: GONE });
      const lines = summaryLines(report);
      expect(lines.filter((l) => l.startsWith('  held  '))).toHaveLength(10);
      expect(lines).toContain(`  … and ${GONE - 10} more`);
    } finally {
      ledger.close();
    }
  });
});

describe('rows under a folder the walk could not list', () => {
  it('are taken out of the collected rows, exactly those (a name sharing the prefix stays)', () => {
    const ledger = Ledger.open(ledgerFile());
    try {
      ledger.clearCollected();
      const paths = ['a/b', 'a/b.txt', 'a/b/x', 'a/b/y/z', 'a/b/\u{1F600}', 'a/b0', 'a/bc/x', 'a/b\u{1F600}/x', 'c/d/e', 'c/e'];
      ledger.collectGone(paths.map((p, i) => ({ path: p, fileId: `file_${i}`, sha256: `h${i}`, listed: i % 2 === 0 })));
      expect(ledger.keepUnseen(['a/b', 'c/d'])).toBe(4);
      const left = [...ledger.collectedDeletesAfter(null, 100), ...ledger.collectedForgetsAfter(null, 100)].map((r) => r.path);
      expect(left.sort()).toEqual(['a/b', 'a/b.txt', 'a/b0', 'a/bc/x', 'a/b\u{1F600}/x', 'c/e'].sort());
    } finally {
      ledger.close();
    }
  });
});

describe('moves whose new copies were not stored', () => {
  it('100,000 of them are set aside in one scan of the gone rows (a key lookup each), and skipped by the pages', () => {
    const n = 100_000;
    const ledger = Ledger.open(ledgerFile());
    try {
      ledger.clearCollected();
      const sha = (i: number) => i.toString(16).padStart(64, '0');
      for (let from = 0; from < n; from += 1_000) {
        const page = Array.from({ length: 1_000 }, (_, k) => from + k).map((i) => ({
          path: `gone/${String(i).padStart(7, '0')}`,
          fileId: `file_${i}`,
          sha256: sha(i),
          listed: true,
        }));
        ledger.collectGone(page);
        ledger.collectAdded(page.map((r) => r.sha256));
      }
      // Every content moved; one new copy was stored: its old copy alone goes.
      ledger.collectStored([sha(n - 1)]);
      expect(ledger.holdWaitingMoves()).toBe(n - 1);
      expect(ledger.collectedDeletesAfter(null, 10)).toEqual([{ path: `gone/${String(n - 1).padStart(7, '0')}`, fileId: `file_${n - 1}` }]);
      expect(ledger.collectedSummary()).toEqual({ deletable: n, forgets: 0, moved: n });
    } finally {
      ledger.close();
    }
  }, 120_000);
});

describe('an allowed delete of collected rows', () => {
  let emu: Emulator;
  let client: FilesClient;
  beforeEach(async () => {
    emu = await emulator();
    client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 1_000_000 });
  });
  afterEach(async () => {
    await client.close();
    await emu.close();
  });

  it('is read from the temp table a page at a time as the queue has room, and all of it is made', async () => {
    const n = 2_500;
    fillGone(ledgerFile(), n);
    const ledger = Ledger.open(ledgerFile());
    try {
      ledger.clearCollected();
      ledger.collectGone(ledger.filesAfter(null, n).map((r) => ({ path: r.path, fileId: r.fileId, sha256: r.sha256, listed: true })));
      let pagesRead = 0;
      const read = ledger.collectedDeletesAfter.bind(ledger);
      ledger.collectedDeletesAfter = (after, limit) => {
        pagesRead++;
        return read(after, limit);
      };
      const { remote, release, started } = gatedDeletes(client);
      const plan = emptyPlan();
      const exec = new Execution(plan, testExecuteDeps(root, remote, ledger));
      exec.begin();
      await exec.finishUploads();
      const judged = judgePass(
        {
          gone: n,
          uploads: 0,
          added: 0,
          addedToUpload: 0,
          found: 1,
          filesHashed: 0,
          bytesHashed: 0,
          restorePaths: [],
        },
        true,
        {
          tracked: n,
          options: planOptionsFor(config(), { now: Date.now(), allowMassDelete: true }),
          ledger,
        },
      );
      expect(judged.verdict).toEqual({ kind: 'allow', deletes: n, forgets: 0 });
      applyPassJudgement(judged, plan, { ledger, exec, pass: { added: 0, addedToUpload: 0 } });
      expect(plan.deletes).toEqual([]); // not materialized: the executor pages them
      const done = exec.finishDeletes();
      await expect.poll(() => started(), { timeout: 10_000 }).toBe(8);
      // The queue is full (1,000 waiting): the pages read are those it holds, not all three.
      expect(exec.queued).toBeLessThanOrEqual(1_000);
      expect(pagesRead).toBeLessThanOrEqual(2);
      release();
      await done;
      const report = exec.end();
      expect(report.deleted).toBe(n);
      expect(report.failedDeletes).toEqual([]);
      expect(ledger.fileCount()).toBe(0);
      expect(ledger.pendingDeleteCount()).toBe(0);
    } finally {
      ledger.close();
    }
  });

  it('a pass over a folder whose files went: the rows whose copy the listing left out are read back a page at a time, in path order', () => {
    fillGone(ledgerFile(), 5);
    const ledger = Ledger.open(ledgerFile());
    try {
      const rows = ledger.filesAfter(null, 5);
      ledger.clearCollected();
      ledger.collectGone(rows.map((r, i) => ({ path: r.path, fileId: r.fileId, sha256: r.sha256, listed: i >= 3 })));
      const left = rows.slice(0, 3).map((r) => ({ path: r.path, fileId: r.fileId }));
      expect(ledger.collectedForgetsAfter(null, 2)).toEqual(left.slice(0, 2));
      expect(ledger.collectedForgetsAfter(left[1]!.path, 2)).toEqual(left.slice(2));
      // Nothing is forgotten until the API is asked (delete-one.ts).
      expect(ledger.fileCount()).toBe(5);
    } finally {
      ledger.close();
    }
  });
});
