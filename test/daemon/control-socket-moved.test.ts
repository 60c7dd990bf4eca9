// A daemon whose state directory was moved away, stopping, removes its own control socket and not
// the one a new daemon made in a new directory at the old path: node unlinks the path a server
// listened on when it closes, so the socket is bound through an open descriptor of its directory.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SOCKET_NAME, startControlServer, type ControlHandlers } from '../../src/daemon/control.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/sync.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('fs-ctl-');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const handlers = (name: string): ControlHandlers => ({
  sync: () => Promise.reject(new Error('not in this test')),
  status: () => ({ name }),
});

/** Asks the socket at `file` for its status. */
function status(file: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(file);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('end', () => resolve(JSON.parse(text.trim().split('\n')[0]!)));
    socket.on('error', reject);
    socket.write('{"cmd":"status"}\n');
  });
}

it("the first daemon's close leaves the new daemon's socket at the same path", async () => {
  const state = path.join(dir, 'state');
  fs.mkdirSync(state);
  const first = await startControlServer(state, handlers('first'), silentLogger());
  expect(await status(path.join(state, SOCKET_NAME))).toEqual({ status: { name: 'first' } });
  fs.renameSync(state, path.join(dir, 'state.old'));
  fs.mkdirSync(state);
  const second = await startControlServer(state, handlers('second'), silentLogger());
  try {
    await first.close();
    expect(fs.existsSync(path.join(state, SOCKET_NAME))).toBe(true);
    expect(await status(path.join(state, SOCKET_NAME))).toEqual({ status: { name: 'second' } });
    // Its own socket, in the directory it was moved with, is gone.
    expect(fs.existsSync(path.join(dir, 'state.old', SOCKET_NAME))).toBe(false);
  } finally {
    await second.close();
  }
  expect(fs.existsSync(path.join(state, SOCKET_NAME))).toBe(false);
});
