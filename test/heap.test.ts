// V8's heap growth (src/heap.ts): which flags files-sync sets, that the operator's own win, and
// that the setting reaches V8 in a real process: the same work peaks far lower with it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { heapFlagsToSet } from '../src/heap.js';

describe('heapFlagsToSet', () => {
  const cases: { name: string; execArgv: string[]; set: string[] }[] = [
    { name: 'nothing given', execArgv: [], set: ['--heap-growing-percent=50'] },
    { name: 'other flags given', execArgv: ['--enable-source-maps', '--max-old-space-size=512'], set: ['--heap-growing-percent=50'] },
    { name: 'given on the command line', execArgv: ['--heap-growing-percent=200'], set: [] },
    { name: 'given with underscores', execArgv: ['--heap_growing_percent=200'], set: [] },
  ];
  for (const c of cases) it(c.name, () => expect(heapFlagsToSet(c.execArgv)).toEqual(c.set));
});

describe('in a real process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'files-sync-heap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // ~20 MB that stays alive, then objects that live long enough to be promoted, then die: the
  // shape of a long reconciliation. Prints the largest heapUsed seen.
  const work = join(dir, 'work.mjs');
  writeFileSync(
    work,
    `if (process.env.HEAP_MODULE) await import(process.env.HEAP_MODULE);
const live = Array.from({ length: 200_000 }, (_, i) => ({ i, s: 'x'.repeat(60) + i }));
const ring = new Array(50_000);
let peak = 0;
for (let n = 0; n < 1_000_000; n++) {
  ring[n % ring.length] = { n, s: 'y'.repeat(40) + n };
  if (n % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
}
process.stdout.write(JSON.stringify({ peak, live: live.length }));
`,
  );
  const peakOf = (env: NodeJS.ProcessEnv): number => {
    const run = spawnSync(process.execPath, [work], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    return (JSON.parse(run.stdout) as { peak: number }).peak;
  };

  it('keeps the old generation near its live size', () => {
    // The module as the CLI loads it, from the build (`npm test` builds first).
    const heapModule = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'heap.js')).href;
    const without = peakOf({});
    const withIt = peakOf({ HEAP_MODULE: heapModule });
    // V8's default lets ~20 MB live grow to 250+ MB here; at 1.5 times it stays near 140.
    expect(withIt).toBeLessThan(without * 0.75);
  }, 120_000);
});
