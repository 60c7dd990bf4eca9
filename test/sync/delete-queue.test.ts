// A large delete is fed to the queue as room frees up, as uploads are (issue 13): a sync allowed
// to delete 369,521 rows of a re-rooted 1,000,000-file tree queued every one at once and grew to
// 600 MB. Real parts: a ledger file, the emulator over HTTP; the remote side's deletes are held
// until the test has looked at the queue.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { FilesClient } from '../../src/remote/client.js';
import { Execution, execute } from '../../src/sync/execute.js';
import { MAX_QUEUED, QUEUED_LOW } from '../../src/sync/room.js';
import { emptyPlan } from '../../src/sync/plan.js';
import type { Progress } from '../../src/sync/types.js';
import { TEST_KEY, emulator, gatedDeletes, tempDir, testExecuteDeps } from '../helpers/sync.js';

const DELETES = 2_500;

let emu: Emulator;
let dir: string;
let ledger: Ledger;
let client: FilesClient;
beforeEach(async () => {
  emu = await emulator();
  dir = tempDir('fs-delq-');
  ledger = Ledger.open(path.join(dir, 'ledger.db'));
  client = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 1_000_000 });
});
afterEach(async () => {
  ledger.close();
  await client.close();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a large delete', () => {
  it(`keeps at most ${MAX_QUEUED} deletes queued while ${DELETES} wait to be made, and makes them all`, async () => {
    const { remote, release, started } = gatedDeletes(client);
    const plan = emptyPlan();
    for (let i = 0; i < DELETES; i++)
      plan.deletes.push({ fileId: `file_gone${i}`, path: `gone/${i}.txt`, reason: 'orphan', fromLocalDelete: false });
    const exec = new Execution(plan, testExecuteDeps(dir, remote, ledger));
    exec.begin();
    const done = exec.finishDeletes();
    await expect.poll(() => started(), { timeout: 10_000 }).toBe(8);
    expect(exec.queued).toBe(MAX_QUEUED);
    release();
    await done;
    const report = exec.end();
    // The emulator never had these ids: each delete is answered 404, "already deleted".
    expect(report.deleted).toBe(DELETES);
    expect(report.failedDeletes).toEqual([]);
    expect(started()).toBe(DELETES);
  });

  it(`once the queue is full, queues more only after it has drained below ${QUEUED_LOW}: one wait a drain, shared by every producer`, async () => {
    const { remote, releaseOne, release, started } = gatedDeletes(client);
    const plan = emptyPlan();
    for (let i = 0; i < DELETES; i++)
      plan.deletes.push({ fileId: `file_step${i}`, path: `step/${i}.txt`, reason: 'orphan', fromLocalDelete: false });
    const exec = new Execution(plan, testExecuteDeps(dir, remote, ledger));
    exec.begin();
    const done = exec.finishDeletes();
    await expect.poll(() => started(), { timeout: 10_000 }).toBe(8);
    expect(exec.queued).toBe(MAX_QUEUED);
    // More producers waiting (the walk takes 16 files at once) share the one wait: no listener more.
    const listeners = exec.queue.listenerCount('next');
    const others = Array.from({ length: 15 }, () => exec.room());
    expect(exec.queue.listenerCount('next')).toBe(listeners);
    const drained = MAX_QUEUED - QUEUED_LOW;
    for (let i = 1; i <= drained; i++) {
      releaseOne();
      await expect.poll(() => started(), { timeout: 10_000, interval: 2 }).toBe(8 + i);
    }
    // Had the producer refilled per job, the queue would be full again: it waits for one more.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(exec.queued).toBe(QUEUED_LOW);
    releaseOne();
    await expect.poll(() => exec.queued, { timeout: 10_000 }).toBe(MAX_QUEUED);
    await Promise.all(others);
    release();
    await done;
    expect(exec.end().deleted).toBe(DELETES);
  });

  it('counts each removed file once in the progress, when the plan came with its deletes', async () => {
    const plan = emptyPlan();
    for (let i = 0; i < 3; i++) plan.deletes.push({ fileId: `file_rm${i}`, path: `rm/${i}.txt`, reason: 'deleted', fromLocalDelete: true });
    let last: Progress | undefined;
    const report = await execute(plan, testExecuteDeps(dir, client, ledger, { concurrency: 2, onProgress: (p) => (last = { ...p }) }));
    expect(report.deleted).toBe(3);
    expect(last).toMatchObject({ filesDone: 3, filesTotal: 3 });
  });

  it('a page of collected deletes that cannot be read ends the run as a fatal error, after the deletes it queued settle', async () => {
    const plan = emptyPlan();
    const exec = new Execution(plan, testExecuteDeps(dir, client, ledger, { concurrency: 2 }));
    const broken = new Error('the temp file could not be read');
    exec.begin();
    exec.addCollectedDeletes({
      count: 4,
      *pages() {
        yield [0, 1].map((i) => ({ fileId: `file_pg${i}`, path: `pg/${i}.txt`, reason: 'deleted' as const, fromLocalDelete: true }));
        throw broken;
      },
    });
    // Not a rejection that leaves queued deletes running behind a failed run: the run stops,
    // what it queued settles, and end() reports the error.
    await exec.finishDeletes();
    expect(exec.queue.size + exec.queue.pending).toBe(0);
    expect(() => exec.end()).toThrow(broken);
  });
});
