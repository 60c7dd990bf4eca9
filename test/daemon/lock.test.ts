// The writer lock against real processes: one holder, none stale after a SIGKILL, no race window.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockedError, acquireLock, readLock } from '../../src/lock.js';

const LOCK_MODULE = path.resolve(import.meta.dirname, '..', '..', 'dist', 'lock.js');
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-lock-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A child process that takes the lock, says so, and holds it until killed. It keeps no reference
 * to the Lock and collects its garbage before it says so: the lock is held by the process, not by
 * whoever keeps the object (Node 22's heap collected an unreferenced one at once, and the kernel
 * lock went with its connection).
 */
async function holderProcess(): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `import(${JSON.stringify(LOCK_MODULE)}).then((m) => { m.acquireLock(${JSON.stringify(dir)}, 'daemon'); globalThis.gc(); process.stdout.write('held\\n'); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ['--expose-gc', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  return {
    pid: child.pid!,
    kill: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe('acquireLock', () => {
  it('refuses a second holder and names the first; taken over at once after a SIGKILL', async () => {
    const holder = await holderProcess();
    let error: unknown;
    try {
      acquireLock(dir, 'sync');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LockedError);
    expect((error as LockedError).pid).toBe(holder.pid);
    expect((error as LockedError).message).toContain(`daemon, pid ${holder.pid}`);
    expect(readLock(path.join(dir, 'lock'))).toEqual({ pid: holder.pid, holder: 'daemon' });
    await holder.kill();
    const lock = acquireLock(dir, 'sync');
    expect(readLock(path.join(dir, 'lock'))).toBeUndefined(); // our own
    lock.release();
    lock.release();
    expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false);
  });

  it('is not fooled by an empty or garbled holder file', async () => {
    const holder = await holderProcess();
    fs.writeFileSync(path.join(dir, 'lock'), '');
    expect(() => acquireLock(dir, 'sync')).toThrow(LockedError);
    await holder.kill();
  });

  it('makes lock.db and its journal private whatever the umask (an older one is made so)', () => {
    const umask = process.umask(0o022);
    try {
      fs.writeFileSync(path.join(dir, 'lock.db'), '', { mode: 0o644 }); // as earlier versions left it
      fs.chmodSync(path.join(dir, 'lock.db'), 0o644);
      const lock = acquireLock(dir, 'sync');
      for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('lock.db'))) {
        expect((fs.statSync(path.join(dir, name)).mode & 0o777).toString(8), name).toBe('600');
      }
      lock.release();
    } finally {
      process.umask(umask);
    }
  });

  it('within one process a second take is refused until the first is released', () => {
    const first = acquireLock(dir, 'daemon');
    expect(() => acquireLock(dir, 'sync')).toThrow(LockedError);
    first.release();
    acquireLock(dir, 'sync').release();
  });
});
