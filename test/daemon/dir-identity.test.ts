// A directory's identity (dir-children.ts): device, inode and a birth time trusted only where one
// was seen to differ from its change time (without statx, libuv reports the change time instead).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { birthOf, identity, sameDir } from '../../src/daemon/dir-children.js';
import { ageDirectory } from '../helpers/sync.js';

describe('directory identity', () => {
  it("trusts a device's birth times only once one differed from its change time", () => {
    const dev = 0x7fff_0001; // no real device has this number
    expect(birthOf({ dev, birthtimeMs: 1000, ctimeMs: 1000 })).toBe(0); // could be the change time
    expect(birthOf({ dev, birthtimeMs: 0, ctimeMs: 5000 })).toBe(0); // none kept
    expect(birthOf({ dev, birthtimeMs: 1000, ctimeMs: 2000 })).toBe(1000); // real: trusted from now on
    expect(birthOf({ dev, birthtimeMs: 3000, ctimeMs: 3000 })).toBe(3000);
    expect(birthOf({ dev: dev + 1, birthtimeMs: 3000, ctimeMs: 3000 })).toBe(0); // another device
  });

  it('tells a directory made again on its old inode number from the old one, where birth times are real', async (ctx) => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-identity-'));
    try {
      const dir = path.join(parent, 'out');
      fs.mkdirSync(dir);
      await ageDirectory(dir); // the change time moves past the birth time, as in any folder in use
      const before = (await identity(dir))!;
      expect(sameDir(await identity(dir), before)).toBe(true);
      fs.rmSync(dir, { recursive: true });
      fs.mkdirSync(dir);
      const after = await identity(dir);
      expect(after).not.toBeNull();
      if (after!.ino !== before.ino || before.birth === 0) return ctx.skip('no reused inode number with a real birth time here');
      expect(sameDir(after, before)).toBe(false);
      expect(sameDir(after, { ...before, birth: 0 })).toBe(true); // unknown: dev and inode alone
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
