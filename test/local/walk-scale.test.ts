// Opt-in (FILES_SYNC_SLOW=1): a walk of 100,000 files, first with every file hashed, then again
// with every file known (no reads). Prints the timings; asserts only counts and a loose bound.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFilter } from '../../src/local/filter.js';
import type { LocalFile } from '../../src/local/types.js';
import { type WalkOptions, walk } from '../../src/local/walk.js';

const DIRS = 1000;
const FILES_PER_DIR = 100;

describe.runIf(process.env.FILES_SYNC_SLOW === '1')('walk of 100,000 files', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'files-sync-scale-'));
    for (let d = 0; d < DIRS; d++) {
      const dir = join(root, `top${d % 10}`, `dir${d}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < FILES_PER_DIR; f++) writeFileSync(join(dir, `file-${f}.txt`), `file ${d}/${f}\n`.repeat(1 + (f % 40)));
    }
  }, 600_000);
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('hashes every file once, then reads none', { timeout: 600_000 }, async () => {
    const options: WalkOptions = {
      filter: createFilter({ include: [], exclude: [] }),
      followSymlinks: false,
      maxFileBytes: 1e9,
      known: () => undefined,
    };
    let started = performance.now();
    const first = await walk(root, options);
    const firstMs = performance.now() - started;
    expect(first.files).toHaveLength(DIRS * FILES_PER_DIR);
    expect(first.filesHashed).toBe(DIRS * FILES_PER_DIR);

    const known = new Map<string, LocalFile>(first.files.map((f) => [f.path, f]));
    started = performance.now();
    const again = await walk(root, {
      ...options,
      known: (p) => known.get(p) as (LocalFile & { sha256: string }) | undefined,
    });
    const againMs = performance.now() - started;
    expect(again.files).toEqual(first.files);
    expect(again.filesHashed).toBe(0);
    console.log(`100,000 files: first walk ${firstMs.toFixed(0)} ms (all hashed), second ${againMs.toFixed(0)} ms (none read)`);
    expect(againMs).toBeLessThan(firstMs);
  });
});
