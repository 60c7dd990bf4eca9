// The daemon's delete batches use the planner's one move rule (DESIGN.md rule 4): one new path
// excuses one deleted path of the same content, so `rm` of many empty files is still held. The
// batch reads only the rows it needs (no per-file load), yet the guard's share counts every row.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { deleteBatch, syncPath, type PathSyncDeps } from '../../src/daemon/pathsync.js';
import { MAX_LOOKED_AT, movesWaitingOnFailures } from '../../src/daemon/waiting-moves.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { memoryLogger, silentLogger, type Logger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { buildFilter } from '../../src/local/filter.js';
import { TEST_KEY, emulator, ourNames, refuseUntilChanged, sha256, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

/** Runs `use` with what a delete batch needs, over the set-up's config, ledger and emulator. */
async function withBatchDeps<T>(
  use: (deps: PathSyncDeps, ledger: Ledger) => Promise<T>,
  { logger = silentLogger(), ledgerHook }: { logger?: Logger; ledgerHook?: (ledger: Ledger) => void } = {},
): Promise<T> {
  const config = loadConfig({ configPath: setup!.configFile }, setup!.env);
  const ledger = Ledger.open(path.join(setup!.stateDir, 'ledger.db'));
  const remote = new FilesClient({ baseUrl: emu!.url, apiKey: TEST_KEY });
  ledgerHook?.(ledger);
  try {
    const { filter } = await buildFilter(config);
    const signal = new AbortController().signal;
    return await use({ config: () => config, filter: () => filter, ledger, remote, logger, signal }, ledger);
  } finally {
    await remote.close();
    ledger.close();
  }
}

it('a delete batch of twenty empty files is held although one new empty file was just uploaded', async () => {
  emu = await emulator();
  setup = syncSetup(emu, { deletes: { maxCount: 5, maxShare: 1 } });
  const empties = Array.from({ length: 20 }, (_, i) => `empty/${i}.txt`);
  writeTree(setup.root, {
    'keep.txt': 'kept',
    'new-empty.txt': '',
    ...Object.fromEntries(empties.map((p) => [p, ''])),
  });
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);
  fs.rmSync(path.join(setup.root, 'empty'), { recursive: true });

  const outcome = await withBatchDeps((deps) => deleteBatch(deps, empties));
  expect(outcome.deleted).toBe(0);
  expect(outcome.held?.reason).toMatch(/^19 files deleted locally/);
  expect(emu.state().files.filter((f) => f.owner === 'self')).toHaveLength(22);
}, 60_000);

it("a delete batch reads only its rows, yet the guard's share counts every tracked row (20 of 30: held)", async () => {
  emu = await emulator();
  setup = syncSetup(emu, { deletes: { maxCount: 1000, maxShare: 0.5 } });
  const doomed = Array.from({ length: 20 }, (_, i) => `doomed/${i}.txt`);
  const kept = Array.from({ length: 10 }, (_, i) => `kept/${i}.txt`);
  writeTree(setup.root, Object.fromEntries([...doomed, ...kept].map((p) => [p, `content of ${p}`])));
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);
  fs.rmSync(path.join(setup.root, 'doomed'), { recursive: true });

  // Every row at once is what a daemon with a million files cannot afford per batch.
  let wholeLoads = 0;
  const countWholeLoads = (ledger: Ledger) => {
    const files = ledger.files.bind(ledger);
    ledger.files = () => {
      wholeLoads += 1;
      return files();
    };
  };
  const outcome = await withBatchDeps((deps) => deleteBatch(deps, doomed), { ledgerHook: countWholeLoads });
  expect(outcome.deleted).toBe(0);
  expect(outcome.held?.reason).toMatch(/^20 files deleted locally, more than deletes.maxShare \(50%\) of 30 tracked files/);
  expect(wholeLoads).toBe(0);
  expect(emu.state().files.filter((f) => f.owner === 'self')).toHaveLength(30);
}, 60_000);

// DESIGN.md rules 2 and 4, as in a reconciliation: a moved file keeps its old copy until its new
// one is stored. A batch pairs its gone paths with the new paths whose upload failed (a refusal
// they wait on), one to one; before, it counted such a move as a deletion and removed the only copy.
it('a delete batch keeps the old copy of a move whose new path waits on a failure, one to one, and says so', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  const same = 'the same content, at two paths';
  writeTree(setup.root, { 'd/1.txt': same, 'd/2.txt': 'removed for good', 'd/3.txt': same, 'keep.txt': 'kept' });
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);
  // d/1.txt moves to e/1.txt, whose upload is refused until the file changes; d/2.txt and d/3.txt are deleted.
  fs.mkdirSync(path.join(setup.root, 'e'));
  fs.renameSync(path.join(setup.root, 'd/1.txt'), path.join(setup.root, 'e/1.txt'));
  fs.rmSync(path.join(setup.root, 'd'), { recursive: true });
  refuseUntilChanged(setup, 'e/1.txt');

  const { logger, lines } = memoryLogger('info');
  const outcome = await withBatchDeps((deps) => deleteBatch(deps, ['d/1.txt', 'd/2.txt', 'd/3.txt']), { logger });
  // One copy of the moved content stays (the new path holds none); the other one and d/2.txt go.
  expect(outcome.deleted).toBe(2);
  expect(outcome.waiting).toEqual(['d/3.txt']);
  const copies = emu.state().files.filter((f) => f.owner === 'self' && f.sha256 === sha256(Buffer.from(same)));
  expect(copies).toHaveLength(1);
  expect(ourNames(emu)).toEqual(['d\u22153.txt', 'keep.txt']);
  expect(lines.join('\n')).toMatch(/kept: 1 moved file keeps its old copy until the new path is uploaded/);
  // The ledger still maps the kept path to its copy: the next reconciliation pairs it again.
  await withBatchDeps(async (_deps, ledger) => {
    expect(ledger.fileByPath('d/3.txt')?.fileId).toBe(copies[0]!.id);
    expect(ledger.fileByPath('d/1.txt')).toBeUndefined();
  });
}, 60_000);

it('a removed file whose content is both stored and waiting at new paths is a move (as a reconciliation counts)', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  const same = 'moved, and copied';
  // e/1.txt holds the content already, uploaded just now (in the batch's window): the stored side.
  writeTree(setup.root, { 'd/1.txt': same, 'e/1.txt': same, 'keep.txt': 'kept' });
  expect((await setup.sync()).code).toBe(0);
  // d/1.txt goes; the content also appears at e/2.txt, whose upload is refused until it changes.
  fs.rmSync(path.join(setup.root, 'd'), { recursive: true });
  writeTree(setup.root, { 'e/2.txt': same });
  refuseUntilChanged(setup, 'e/2.txt');

  const outcome = await withBatchDeps((deps) => deleteBatch(deps, ['d/1.txt']));
  // min(gone 1, failed 1 + stored 1) − min(gone 1, stored 1) = 0 wait: the stored copy makes it a move.
  expect(outcome).toMatchObject({ waiting: [], deleted: 1, held: null });
  expect(ourNames(emu)).toEqual(['e\u22151.txt', 'keep.txt']);
}, 60_000);

it('a batch reads no file to pair: the failure row says which content failed, if the file is still the one that failed', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  writeTree(setup.root, { 'g/1.txt': 'one', 'g/2.txt': 'two', 'g/3.txt': 'three' });
  expect((await setup.sync()).code).toBe(0);
  fs.rmSync(path.join(setup.root, 'g'), { recursive: true });
  // Their contents reappear at new paths whose uploads were refused; n/3.txt changed since.
  writeTree(setup.root, { 'n/1.txt': 'one', 'n/2.txt': 'two', 'n/3.txt': 'three' });
  refuseUntilChanged(setup, 'n/1.txt', 'n/2.txt', 'n/3.txt');
  fs.utimesSync(path.join(setup.root, 'n/3.txt'), new Date(), new Date(Date.now() - 5_000));

  await withBatchDeps(async (deps, ledger) => {
    const gone = ['g/1.txt', 'g/2.txt', 'g/3.txt'].map((p) => ledger.fileByPath(p)!);
    const waiting = await movesWaitingOnFailures(deps, gone, [], 3);
    expect(waiting).toEqual({ kept: new Set(['g/1.txt', 'g/2.txt']), undecided: false });
    // More failed new paths of these contents than it may look at: it decides nothing.
    expect((await movesWaitingOnFailures(deps, gone, [], 2)).undecided).toBe(true);
  });
}, 60_000);

it(`with more failed uploads of removed files' contents than a batch looks at (${MAX_LOOKED_AT}), it deletes none and says why`, async () => {
  emu = await emulator();
  setup = syncSetup(emu, { deletes: { maxCount: 5, maxShare: 1 } });
  // Ten files go (an rm -rf the guard holds: more than 5); one's content was refused at 10,001 new paths.
  const removed = Array.from({ length: 10 }, (_, i) => `gone/${i + 1}.txt`);
  writeTree(setup.root, Object.fromEntries(removed.map((p, i) => [p, `content ${i + 1}`])));
  expect((await setup.sync()).code).toBe(0);
  fs.rmSync(path.join(setup.root, 'gone'), { recursive: true });
  const refused = Array.from({ length: MAX_LOOKED_AT + 1 }, (_, i) => `refused/${Math.floor(i / 1000)}/${i}.txt`);
  writeTree(setup.root, Object.fromEntries(refused.map((p) => [p, 'content 6'])));
  refuseUntilChanged(setup, ...refused);

  const { logger, lines } = memoryLogger('info');
  const outcome = await withBatchDeps((deps) => deleteBatch(deps, removed), { logger });
  expect(outcome).toMatchObject({ deleted: 0, held: null });
  expect(outcome.waiting.sort()).toEqual([...removed].sort());
  expect(ourNames(emu)).toHaveLength(10);
  expect(lines.join('\n')).toMatch(
    /10 removed files wait for the next reconciliation: more uploads of their content failed than a batch looks at \(10000\)/,
  );
}, 120_000);

// A failure recorded before schema 5 holds no content. The walk hashes the file anyway (a failure
// that holds still names a move's new side), so a reconciliation, or the path's own job, writes it
// in: from then on the daemon's batches keep the old copy of that move too.
it('a failure row from before schema 5 learns its content from a sync or from the path job', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  writeTree(setup.root, { 'd/1.txt': 'one', 'd/2.txt': 'two', 'keep.txt': 'kept' });
  expect((await setup.sync()).code).toBe(0);
  fs.mkdirSync(path.join(setup.root, 'e'));
  for (const n of ['1', '2']) fs.renameSync(path.join(setup.root, `d/${n}.txt`), path.join(setup.root, `e/${n}.txt`));
  const oldStyle = (ledger: Ledger, relPath: string) => {
    const { size, mtimeMs } = fs.statSync(path.join(setup!.root, relPath));
    ledger.recordFailure(relPath, '400 invalid_request_error: refused', 'on-change', { size, mtimeMs }, Date.now());
  };
  await withBatchDeps(async (deps, ledger) => {
    oldStyle(ledger, 'e/1.txt');
    oldStyle(ledger, 'e/2.txt');
    expect(ledger.failure('e/1.txt')?.sha256).toBeNull();
    // The path job of e/2.txt skips it (its failure holds) and writes its content in.
    expect(await syncPath(deps, 'e/2.txt')).toEqual({ kind: 'done', report: null });
    expect(ledger.failure('e/2.txt')?.sha256).toBe(sha256('two'));
  });
  // A sync keeps both old copies (both new paths wait) and writes e/1.txt's content in.
  const sync = await setup.sync();
  expect(sync.stdout).toMatch(/kept: 2 moved files keep their old copy/);
  await withBatchDeps(async (deps, ledger) => {
    expect(ledger.failure('e/1.txt')?.sha256).toBe(sha256('one'));
    // So a daemon batch keeps them too.
    const outcome = await deleteBatch(deps, ['d/1.txt', 'd/2.txt']);
    expect(outcome).toMatchObject({ deleted: 0, waiting: ['d/2.txt', 'd/1.txt'] });
  });
}, 60_000);

it("a folder moved under the daemon is a move when the API's clock runs hours behind this host's (the window is on the API's clock)", async () => {
  emu = await emulator({ clockOffsetMs: -2 * 3600_000 });
  setup = syncSetup(emu, { deletes: { maxCount: 5, maxShare: 1 } });
  const names = Array.from({ length: 12 }, (_, i) => `${i}.txt`);
  writeTree(setup.root, Object.fromEntries(names.map((n) => [`old/${n}`, `content of ${n}`])));
  const first = await setup.sync();
  expect(first.code, first.stderr).toBe(0);
  fs.renameSync(path.join(setup.root, 'old'), path.join(setup.root, 'new'));

  const outcome = await withBatchDeps(async (deps) => {
    // The path jobs upload the new paths, then the batch deletes the old ones.
    for (const n of names) expect((await syncPath(deps, `new/${n}`)).kind).toBe('done');
    return deleteBatch(
      deps,
      names.map((n) => `old/${n}`),
    );
  });
  expect(outcome.held ?? null).toBeNull();
  expect(outcome.deleted).toBe(12);
  expect(ourNames(emu)).toEqual(names.map((n) => `new\u2215${n}`).sort());
}, 60_000);
