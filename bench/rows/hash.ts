// Row 6: the walk's sha256 (src/local/hash.ts hashFile, in-process time) on a real 1 GB file against
// `sha256sum` of the same file, both reading it from the page cache (warmed first).
import { rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { benchScript } from '../lib/env.js';
import { expectOk, runCommand, runNode } from '../lib/proc.js';
import { context, fmt, judged, median, ratio, type Figure } from '../lib/stats.js';
import { makeRealFile, makeSparseFile, tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

export async function rowHash(ctx: RowContext): Promise<RowResult> {
  const size = ctx.scale(1_000_000_000);
  const dir = tempDir('hash');
  try {
    const file = join(dir, 'one-gigabyte.bin');
    const fs = statfsSync(dir);
    const real = fs.bavail * fs.bsize > size * 3;
    if (real) makeRealFile(file, size);
    else makeSparseFile(file, size);
    ctx.log(`row 6: ${real ? 'real' : 'sparse (not enough disk)'} file of ${fmt(size / 1e6)} MB written`);
    // Warm the page cache so both read it from memory.
    expectOk(await runCommand('sha256sum', [file]), 'sha256sum (warm-up)');
    const runs: { filesSyncMs: number; sha256sumMs: number }[] = [];
    let digests: string[] = [];
    for (let i = 0; i < ctx.runs; i++) {
      const ours = expectOk(await runNode(benchScript('clients/hash.js'), ['--file', file]), 'hashFile');
      const theirs = expectOk(await runCommand('sha256sum', [file]), 'sha256sum');
      const out = JSON.parse(ours.stdout) as { sha256: string; ms: number; bytes: number };
      digests = [out.sha256, theirs.stdout.split(' ')[0] ?? ''];
      if (digests[0] !== digests[1]) throw new Error(`digests differ: ${digests.join(' vs ')}`);
      runs.push({ filesSyncMs: out.ms, sha256sumMs: theirs.wallMs });
      ctx.log(`row 6 run ${i + 1}: hashFile ${fmt(out.ms)} ms, sha256sum ${fmt(theirs.wallMs)} ms`);
    }
    const mbps = (ms: number) => size / 1e6 / (ms / 1000);
    const vs = median(runs.map((r) => r.sha256sumMs / r.filesSyncMs));
    const figures: Figure[] = [
      context(
        6,
        `hashFile / sha256sum, ${fmt(size / 1e6)} MB ${real ? 'written' : 'sparse'} file`,
        mbps(median(runs.map((r) => r.filesSyncMs))),
        `${fmt(mbps(median(runs.map((r) => r.filesSyncMs))))} / ${fmt(mbps(median(runs.map((r) => r.sha256sumMs))))} MB/s`,
      ),
      judged(6, 'hashFile ÷ sha256sum (throughput)', vs, ratio(vs), '>=', 0.9, '≥ 0.90×'),
    ];
    return {
      row: 6,
      title: `Hashing: sha256 of a ${fmt(size / 1e6)} MB file`,
      figures,
      raw: { size, real, runs, sha256: digests[0] },
      notes: [
        `A ${real ? 'real file of random 1 MiB blocks, written first' : 'sparse file (the kernel serves zero pages fast)'}, read from the page cache by both (warmed by one untimed sha256sum). hashFile is timed inside its process, around the call; sha256sum as a process (its start-up is about a millisecond).`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
