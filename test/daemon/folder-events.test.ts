// The daemon's bookkeeping between its watch and its walks (FolderEvents), with a real watcher on a
// real temp folder: a watch set up again is followed by one reconciliation, none while a
// reconciliation waits to walk, and that one is still run if the waiting reconciliation never walks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderEvents, WATCHER_ERROR_GAP_MS, type FolderHost } from '../../src/daemon/folder-events.js';
import type { FloodNotices } from '../../src/daemon/notices.js';
import { TreeWatcher } from '../../src/daemon/watcher.js';
import { memoryLogger, silentLogger } from '../../src/log.js';

let watcher: TreeWatcher | undefined;
let root: string | undefined;
afterEach(async () => {
  await watcher?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  watcher = root = undefined;
});

/** FolderEvents over a real watcher of a temp folder; `triggered` records the reconciliations asked for. */
function setUp(): {
  events: FolderEvents;
  triggered: string[];
  ready: Promise<void>;
  delayed: { ms: number; fn: () => void }[];
  lines: string[];
} {
  const delayed: { ms: number; fn: () => void }[] = [];
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-folder-'));
  const triggered: string[] = [];
  const { logger, lines } = memoryLogger('info');
  watcher = new TreeWatcher({
    root,
    filter: () => true,
    followSymlinks: false,
    logger,
    onEvent: () => undefined,
    onError: (err) => {
      throw err;
    },
    onReady: (again) => events.watching(again), // set below, before the first start
    startDelayMs: 100,
  });
  const host = {
    phase: 'running',
    parts: { watcher, loop: { trigger: (reason: string) => triggered.push(reason) } },
    settings: { filter: () => true },
    config: { root, followSymlinks: false },
    log: silentLogger(),
    whenSettled: () => undefined,
    later: (ms: number, fn: () => void) => {
      delayed.push({ ms, fn });
      return setTimeout(() => undefined, 0);
    },
  } as unknown as FolderHost;
  const events = new FolderEvents(host, {} as FloodNotices);
  watcher.start();
  return { events, triggered, ready: watcher.settled(), delayed, lines };
}

describe('FolderEvents: the watch and the walks', () => {
  it('a first watch set before the walk asks for nothing; a restart asks for one reconciliation once in place', async () => {
    const { events, triggered, ready } = setUp();
    await events.beforeWalk(); // waits for the first watch
    expect(watcher!.status().state).toBe('watching');
    events.walkBegins();
    await ready;
    expect(triggered).toEqual([]);

    events.rewatch('new root or filter');
    events.rewatch('the sync root is back');
    await watcher!.settled();
    expect(triggered).toEqual(['new root or filter; the sync root is back']); // one run, both reasons
  });

  it('a walk begun while the watch is set up again gets one more reconciliation', async () => {
    const { events, triggered, ready } = setUp();
    await ready;
    events.rewatch('new root or filter');
    void events.beforeWalk(); // not awaited: the walk goes ahead (as past the two-minute bound)
    events.walkBegins();
    await watcher!.settled();
    expect(triggered).toEqual(['new root or filter']);
  });

  it('none while a reconciliation waits to walk; owed, and asked for, if it ends without walking', async () => {
    const { events, triggered, ready } = setUp();
    await ready;
    events.rewatch('the sync root was replaced');
    await events.beforeWalk(); // waited until the watch was in place
    expect(triggered).toEqual([]);
    events.walkBegins();
    expect(triggered).toEqual([]); // the waiting run walks: it serves the restart

    events.rewatch('the sync root was replaced');
    await events.beforeWalk();
    events.walkAbandoned(); // failed before its walk
    expect(triggered).toEqual(['the sync root was replaced']);
  });

  it('a root back is watched again unless a watch was set up since its fault began', async () => {
    const { events, ready } = setUp();
    await ready;
    const startedAt = watcher!.startedAt;
    events.rootBack(null); // no root fault ended
    expect(watcher!.startedAt).toBe(startedAt);
    events.rootBack(startedAt - 1); // watched since: the root check saw it come back
    expect(watcher!.startedAt).toBe(startedAt);
    events.rootBack(startedAt); // the watch is older than the fault: perhaps of another directory
    expect(watcher!.status().state).toBe('starting');
  });

  it('a watch set up while the root was missing is set up again once a reconciliation finds the root', async () => {
    const { events, ready, lines } = setUp();
    await ready;
    fs.rmSync(root!, { recursive: true });
    watcher!.restart(); // as after the root's own watch said it was deleted
    await watcher!.settled();
    expect(watcher!.status()).toMatchObject({ state: 'watching', directories: 0 });
    // Said as it is: nothing is watched (not "watching <root> again").
    expect(lines.at(-1)).toMatch(/WARN cannot watch .*: it is missing; watching it again once it is there/);
    fs.mkdirSync(root!);
    events.rootBack(null); // a reconciliation succeeded: the root is there
    await watcher!.settled();
    expect(watcher!.status()).toMatchObject({ state: 'watching', directories: 1 });
    expect(lines.at(-1)).toMatch(/\d watching \//);
  });

  it('watcher errors, however many, ask for one reconciliation per gap: the rest share one at its end', async () => {
    const { events, triggered, ready, delayed } = setUp();
    await ready;
    for (let i = 0; i < 50; i++) events.watcherError(); // a folder made unreadable, again and again
    expect(triggered).toEqual(['watcher error']);
    expect(delayed).toHaveLength(1);
    expect(delayed[0]!.ms).toBeGreaterThan(WATCHER_ERROR_GAP_MS - 1_000);
    expect(delayed[0]!.ms).toBeLessThanOrEqual(WATCHER_ERROR_GAP_MS);
    delayed[0]!.fn(); // the gap is over: one run for all of them
    expect(triggered).toEqual(['watcher error', 'watcher error']);
    events.watcherError(); // a new gap began with that run
    expect(triggered).toHaveLength(2);
    expect(delayed).toHaveLength(2);
  });
});
