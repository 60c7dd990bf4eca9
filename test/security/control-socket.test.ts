// The control socket under abuse (issue 8, item 6a): 64 MiB without a newline must not grow the
// daemon (it drops the connection at its limit), an idle connection is dropped, and the daemon
// still answers `status` afterwards.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { type DaemonProcess, daemonSetup, daemonStatus, startDaemon, tearDown } from '../helpers/daemon.js';
import { emulator, type SyncSetup } from '../helpers/sync.js';

/** Resident set of a process in MB, from /proc (0 once it has exited). */
function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Writes `total` bytes without a newline, honouring back-pressure, until done or the peer drops us. */
async function flood(socketPath: string, total: number): Promise<{ sent: number; dropped: boolean }> {
  // Half-open, as a hostile client would: the server's "end" does not stop the writes, only a drop does.
  const socket = net.createConnection({ path: socketPath, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  let sent = 0;
  let closed = false;
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const gone = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  const deadline = Date.now() + 30_000; // a daemon that keeps buffering gets slow: the RSS check then says why
  while (sent < total && !closed && Date.now() < deadline) {
    const ok = socket.write(chunk);
    sent += chunk.length;
    const late = new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref());
    if (!ok) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), gone, late]);
  }
  socket.end();
  await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  socket.destroy();
  return { sent, dropped: closed && sent < total };
}

let emu: Emulator;
let setup: SyncSetup;
let daemon: DaemonProcess;
beforeAll(async () => {
  emu = await emulator();
  setup = daemonSetup(emu);
  fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
  daemon = await startDaemon(setup);
});
afterAll(() => tearDown(emu, setup));

describe('the control socket', () => {
  it('drops a 64 MiB request without a newline; the daemon grows at most 20 MB and still answers', async () => {
    await daemonStatus(setup);
    const before = rssMb(daemon.pid);
    let peak = before;
    const watch = setInterval(() => (peak = Math.max(peak, rssMb(daemon.pid))), 20);
    let result;
    try {
      result = await flood(path.join(setup.stateDir, 'control.sock'), 64 * 1024 * 1024);
    } finally {
      clearInterval(watch);
    }
    peak = Math.max(peak, rssMb(daemon.pid));
    expect(peak - before, `RSS ${Math.round(before)} MB -> ${Math.round(peak)} MB`).toBeLessThanOrEqual(20);
    expect(result.dropped, `sent ${result.sent} bytes`).toBe(true);
    expect((await daemonStatus(setup)).pid).toBe(daemon.pid);
  });

  it('drops a connection that sends nothing', async () => {
    const socket = net.createConnection(path.join(setup.stateDir, 'control.sock'));
    socket.on('error', () => undefined);
    socket.resume(); // read the farewell, so that the close is seen
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 40_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    socket.destroy();
    expect(closed).toBe(true);
    expect((await daemonStatus(setup)).pid).toBe(daemon.pid);
  });
});
