// Events on a watched folder itself (a chmod of it, its removal) come, from inotify through libuv,
// under the last name of the path the watch was made on. Subfolders are watched through their
// open descriptor (/proc/self/fd/N), so such an event used to read as a child named "N": a hint for
// `d/23`, a path that does not exist (and, for a service user, an EACCES reported as a failure of
// it). They are now watched at `/proc/self/fd/N/.`, whose "." no child can be named.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { TreeWatcher, type WatchEventKind } from '../../src/daemon/watcher.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers/sync.js';

let watcher: TreeWatcher | undefined;
let root: string | undefined;
afterEach(async () => {
  await watcher?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
  watcher = root = undefined;
});

it("a watched subfolder's own chmod gives a hint for the folder, never one for a child named after a descriptor", async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watch-self-'));
  fs.mkdirSync(path.join(root, 'd'));
  fs.writeFileSync(path.join(root, 'd', 'f.txt'), 'x');
  const hints: [WatchEventKind, string][] = [];
  const errors: Error[] = [];
  watcher = new TreeWatcher({
    root,
    filter: () => true,
    followSymlinks: false,
    logger: silentLogger(),
    onEvent: (kind, rel) => hints.push([kind, rel]),
    onError: (err) => errors.push(err),
  });
  watcher.start();
  await waitFor(() => watcher?.status().state === 'watching', 'the watcher ready');
  fs.chmodSync(path.join(root, 'd'), 0o700);
  fs.chmodSync(path.join(root, 'd'), 0o755);
  fs.writeFileSync(path.join(root, 'd', 'after.txt'), 'y'); // a later event, so the chmods' have come
  await waitFor(() => hints.some(([, r]) => r === 'd/after.txt'), 'the hint for d/after.txt');
  expect(hints.map(([, r]) => r).filter((r) => /^d\/(\d+|\.)$/.test(r))).toEqual([]);
  expect(errors).toEqual([]);
});
