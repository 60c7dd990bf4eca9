// Row 3: a no-op re-sync of 100,000 already-synced files: only ceil(N/1000) list calls, no file
// read (the walk's hash counter, and the files' atimes), and wall time against a bare Node stat
// walk of the same tree plus the same listing.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchScript, EMULATOR_KEY } from '../lib/env.js';
import { routeRequests, totalRequests, withEmulator } from '../lib/emulator.js';
import { runSync, walkCounters, writeConfig } from '../lib/filesync.js';
import { expectOk, runNode } from '../lib/proc.js';
import { context, fmt, judged, median, ratio, seconds, type Figure } from '../lib/stats.js';
import { filesReadSince, makeSmallTree, resetTimes, tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

export async function rowNoop(ctx: RowContext): Promise<RowResult> {
  const count = ctx.scale(100_000);
  const size = 1024;
  const dir = tempDir('noop');
  try {
    const t = performance.now();
    const tree = makeSmallTree(join(dir, 'root'), count, size);
    ctx.log(`row 3: ${fmt(count)} files written in ${seconds(performance.now() - t, 1)}`);
    const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });
    const stateDir = join(dir, 'state');
    return await withEmulator({}, async (emu) => {
      const env = { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: emu.url };
      const initial = await runSync({ url: emu.url, root: tree.root, stateDir, config, timeoutMs: 900_000 });
      if (initial.report.uploaded !== count) throw new Error(`initial sync uploaded ${initial.report.uploaded} of ${count}`);
      ctx.log(`row 3: initial sync of ${fmt(count)} files in ${seconds(initial.measured.wallMs, 1)}`);
      // The initial sync read every file: put their times back, so any read from here on shows.
      resetTimes(tree);

      const runs: { fsMs: number; baseMs: number; walkMs: number; listMs: number; requests: number; lists: number; bytesHashed: number; filesHashed: number; rchar: number }[] = [];
      for (let i = 0; i < ctx.runs; i++) {
        await emu.resetCounters();
        const run = await runSync({ url: emu.url, root: tree.root, stateDir, config, logDebug: true });
        const counters = await emu.counters();
        const walked = walkCounters(run.measured.stderr);
        if (run.report.uploaded !== 0 || run.report.unchanged !== count) throw new Error(`no-op sync did something: ${JSON.stringify(run.report).slice(0, 400)}`);
        const base = expectOk(await runNode(benchScript('clients/statwalk.js'), ['--dir', tree.root], { env }), 'stat walk');
        const b = JSON.parse(base.stdout) as { files: number; listed: number; walkMs: number; listMs: number };
        if (b.files !== count || b.listed !== count) throw new Error(`stat walk saw ${b.files} files and listed ${b.listed}`);
        runs.push({
          fsMs: run.measured.wallMs,
          baseMs: base.wallMs,
          walkMs: b.walkMs,
          listMs: b.listMs,
          requests: totalRequests(counters),
          lists: routeRequests(counters, 'GET /v1/files'),
          bytesHashed: walked?.bytesHashed ?? NaN,
          filesHashed: walked?.filesHashed ?? NaN,
          rchar: run.measured.probe?.rchar ?? NaN,
        });
        ctx.log(`row 3 run ${i + 1}: files-sync ${fmt(run.measured.wallMs)} ms (${runs.at(-1)!.requests} requests), stat walk + listing ${fmt(base.wallMs)} ms (walk ${fmt(b.walkMs)}, listing ${fmt(b.listMs)})`);
      }
      const filesRead = filesReadSince(tree);
      const expectedLists = Math.ceil(count / 1000);
      const vs = median(runs.map((r) => r.fsMs / r.baseMs));
      const maxRequests = Math.max(...runs.map((r) => r.requests));
      const maxHashed = Math.max(...runs.map((r) => r.bytesHashed));
      const figures: Figure[] = [
        context(3, `initial sync of ${fmt(count)} × 1 KiB (setup, one run)`, initial.measured.wallMs, `${seconds(initial.measured.wallMs, 1)} (${fmt((count / initial.measured.wallMs) * 1000)} files/s)`),
        judged(3, 'requests per no-op sync (most of any run)', maxRequests, `${fmt(maxRequests)} (${fmt(Math.max(...runs.map((r) => r.lists)))} list)`, '==', expectedLists, `= ${expectedLists} list calls`),
        context(3, 'no-op sync / bare stat walk + listing (wall)', median(runs.map((r) => r.fsMs)), `${seconds(median(runs.map((r) => r.fsMs)))} / ${seconds(median(runs.map((r) => r.baseMs)))}`),
        judged(3, 'no-op sync ÷ (stat walk + listing)', vs, ratio(vs), '<=', 3, '≤ 3.00×'),
        judged(3, 'bytes read to hash (walk counter, most of any run)', maxHashed, `${fmt(maxHashed)} B`, '==', 0, '= 0'),
        judged(3, 'files read during the no-op runs (atime check)', filesRead, `${fmt(filesRead)} of ${fmt(count)}`, '==', 0, '= 0'),
        context(3, 'all bytes the process read (rchar: listing, ledger, code)', median(runs.map((r) => r.rchar)), `${fmt(median(runs.map((r) => r.rchar)) / 1e6, 1)} MB (the tree holds ${fmt((count * size) / 1e6)} MB)`),
      ];
      return {
        row: 3,
        title: `No-op re-sync of ${fmt(count)} already-synced files`,
        figures,
        raw: { count, size, initialMs: initial.measured.wallMs, runs, filesRead },
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
