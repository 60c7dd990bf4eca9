// What the path filter keeps as it is asked about paths (issue 13): a reconciliation asks about
// every path of the tree, and a daemon about every path for as long as it runs, so the answers it
// remembers must be bounded, and the answers must not change when it forgets them.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createFilter } from '../../src/local/filter.js';
import { IgnoreRules } from '../../src/local/ignore-rules.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The JavaScript heap in use once garbage is collected: what is still held. */
function heldHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The scale tree's layout: 100 files a folder, three folder levels. */
function scalePath(i: number): string {
  const leaf = Math.floor(i / 100);
  return `a${Math.floor(leaf / 1000)}/b${Math.floor(leaf / 100)}/c${leaf}/f${i}.txt`;
}

describe('the filter keeps no answer per path', () => {
  it('asked about 200,000 paths, it holds no more than before (it held ~30 MB, one answer per path)', () => {
    const filter = createFilter({ include: [], exclude: ['skip/'] });
    expect(filter('warm.txt', false)).toBe(true);
    const before = heldHeap();
    let kept = 0;
    for (let i = 0; i < 200_000; i++) if (filter(scalePath(i), false)) kept++;
    const grown = heldHeap() - before;
    expect(kept).toBe(200_000);
    // The filter is still in use here, so what it remembered would still be held.
    expect(filter('skip/x.txt', false)).toBe(false);
    expect(grown).toBeLessThan(8 * 2 ** 20);
  });
});

describe('IgnoreRules', () => {
  it('remembers at most `limit` questions, then starts again from the same rules', () => {
    const rules = new IgnoreRules([['*.tmp', 'build/', '!build/keep.txt', 'logs/']], 100);
    for (let i = 0; i < 1_050; i++) {
      expect(rules.ignores(`d${i % 7}/f${i}.txt`)).toBe(false);
      expect(rules.remembered).toBeLessThanOrEqual(100);
    }
    expect(rules.rebuilds).toBe(10);
  });

  it('answers the same across a rebuild: later rules win, a path under an excluded folder stays excluded', () => {
    const asked: [string, boolean][] = [
      ['a/x.tmp', true],
      ['a/x.txt', false],
      ['build/', true],
      // git cannot take back a file under an excluded folder, and neither can `!`.
      ['build/keep.txt', true],
      ['logs/deep/er/file.txt', true],
      ['logs', false],
      ['src/logs/', true],
    ];
    const fresh = new IgnoreRules([['*.tmp', 'build/', '!build/keep.txt', 'logs/']]);
    // A limit of 1 rebuilds before every question: no answer may come from a parent's remembered one.
    const forgetful = new IgnoreRules([['*.tmp', 'build/', '!build/keep.txt', 'logs/']], 1);
    for (const [path, ignored] of asked) {
      expect([path, fresh.ignores(path)]).toEqual([path, ignored]);
      expect([path, forgetful.ignores(path)]).toEqual([path, ignored]);
    }
  });
});
