// `npm run demo` (its built entry point): the emulator, the sample folder, two syncs, exit 0.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const DEMO = path.resolve(import.meta.dirname, '..', '..', 'dist', 'demo.js');

describe('demo', () => {
  it('syncs the sample folder, then an edit, a delete and an addition, and exits 0', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [DEMO], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/9 new, 0 changed, 0 removed, 0 unchanged, 0 failed, 0 skipped; 0 old copies deleted/);
    expect(stdout).toMatch(/1 new, 1 changed, 1 removed, 7 unchanged, 0 failed, 0 skipped; 1 old copy deleted, 0 orphans cleaned/);
    expect(stdout).toMatch(/reports\/handbook\.pdf/);
    expect(stdout).toMatch(/9 synced from the folder, 1 of another application \(untouched\)/);
    expect(stdout).toMatch(/demo done/);
  });
});
