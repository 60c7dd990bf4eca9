// The watcher says its errors inside the tree a few times per kind, not once per folder: a writer of
// the folder who makes folders that cannot be watched (mode 000 against the service's user; here,
// as root, paths past PATH_MAX made with relative mkdir) grew the log by a line per folder, and the
// daemon's memory by the message it kept to say each once, for the daemon's whole life.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { WATCH_ERRORS_LOGGED } from '../../src/daemon/watch-errors.js';
import { TreeWatcher } from '../../src/daemon/watcher.js';
import { memoryLogger } from '../../src/log.js';
import { waitFor } from '../helpers/sync.js';

let watcher: TreeWatcher | undefined;
let root: string | undefined;
afterEach(async () => {
  await watcher?.close();
  // rm -rf, not fs.rmSync: the tree is deeper than PATH_MAX.
  if (root) execFileSync('rm', ['-rf', root]);
  watcher = root = undefined;
});

const SEGMENT = 'd'.repeat(200);

/** Under `root`, a chain of folders whose real path nears PATH_MAX, then `n` folders past it, `pause` seconds apart. */
function foldersPastPathMax(root: string, n: number, prefix: string, pause = 0): Promise<unknown> {
  const depth = Math.ceil((4096 - root.length - 150) / (SEGMENT.length + 1));
  const script = `set -e; cd "$1"; for i in $(seq ${depth}); do mkdir -p ${SEGMENT}; cd ${SEGMENT}; done; for i in $(seq ${n}); do mkdir ${prefix}$i-${'x'.repeat(180)}; sleep ${pause}; done`;
  return promisify(execFile)('bash', ['-c', script, 'bash', root]);
}

describe('the watcher on folders it cannot watch', () => {
  it('logs the first few errors of a kind, then none until it starts again, and reconciles for each', async () => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fs-watch-errors-')));
    await foldersPastPathMax(root, 30, 'a');
    const { logger, lines } = memoryLogger('debug');
    let errors = 0;
    watcher = new TreeWatcher({
      root,
      filter: () => true,
      followSymlinks: false,
      logger,
      onEvent: () => undefined,
      onError: () => void errors++,
    });
    watcher.start();
    await waitFor(() => watcher!.status().state === 'watching', 'the watcher ready', 60_000);
    // More made while it runs: each event brings a look, each look an error.
    await foldersPastPathMax(root, 10, 'b', 0.1);
    await waitFor(() => errors >= 40, 'an error for each folder', 30_000);
    const warned = () => lines.filter((line) => line.includes('watcher error'));
    expect(warned()).toHaveLength(WATCH_ERRORS_LOGGED);
    expect(warned().at(-1)).toContain('are not logged until the watch starts again');
    // Started again: said anew (a few), since the watch may meet them again.
    watcher.start();
    await waitFor(() => watcher!.status().state === 'watching', 'the watcher ready again', 60_000);
    expect(warned()).toHaveLength(2 * WATCH_ERRORS_LOGGED);
  }, 120_000);
});
