// `npm run demo` (its built entry point): the emulator, the sample folder, two syncs, exit 0.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const DEMO = path.resolve(import.meta.dirname, '..', 'dist', 'demo.js');

describe('demo', () => {
  it('syncs the sample folder, then an edit, a delete and an addition, and exits 0', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [DEMO], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/uploaded 9, replaced 0, deleted 0, unchanged 0, failed 0/);
    expect(stdout).toMatch(/uploaded 1, replaced 1, deleted 2, unchanged 7, failed 0/);
    expect(stdout).toMatch(/reports\/handbook\.pdf/);
    expect(stdout).toMatch(/9 synced from the folder, 1 of another application \(untouched\)/);
    expect(stdout).toMatch(/demo done/);
  });
});
