// Row 3: a no-op re-sync of 100,000 already-synced files: only ceil(N/1000) list calls, no file
// read (the walk's hash counter, and the files' atimes), and wall time against a bare Node stat
// walk of the same tree plus the same listing.
import { benchScript, EMULATOR_KEY } from '../lib/env.js';
import { routeRequests, totalRequests } from '../lib/emulator.js';
import { syncedTree } from '../lib/fixture.js';
import { runSync, walkCounters } from '../lib/filesync.js';
import { expectOk, runNode } from '../lib/proc.js';
import { context, fmt, judged, median, ratio, seconds, type Figure } from '../lib/stats.js';
import { filesReadSince } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

export async function rowNoop(ctx: RowContext): Promise<RowResult> {
  const count = ctx.scale(100_000);
  const { tree, emu, stateDir, config, initialMs, initialRssKb } = await syncedTree(ctx, count);
  const size = 1024;
  const env = { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: emu.url };
  const runs: {
    fsMs: number;
    baseMs: number;
    walkMs: number;
    listMs: number;
    requests: number;
    lists: number;
    bytesHashed: number;
    filesHashed: number;
    rchar: number;
    rssKb: number;
  }[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    await emu.resetCounters();
    const run = await runSync({ url: emu.url, root: tree.root, stateDir, config, logDebug: true });
    const counters = await emu.counters();
    const walked = walkCounters(run.measured.stderr);
    if (run.report.uploaded !== 0 || run.report.unchanged !== count)
      throw new Error(`no-op sync did something: ${JSON.stringify(run.report).slice(0, 400)}`);
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
      rssKb: run.measured.probe?.maxRssKb ?? NaN,
    });
    ctx.log(
      `row 3 run ${i + 1}: files-sync ${fmt(run.measured.wallMs)} ms (${runs.at(-1)!.requests} requests), stat walk + listing ${fmt(base.wallMs)} ms (walk ${fmt(b.walkMs)}, listing ${fmt(b.listMs)})`,
    );
  }
  const filesRead = filesReadSince(tree);
  const expectedLists = Math.ceil(count / 1000);
  const vs = median(runs.map((r) => r.fsMs / r.baseMs));
  const maxRequests = Math.max(...runs.map((r) => r.requests));
  const maxHashed = Math.max(...runs.map((r) => r.bytesHashed));
  const figures: Figure[] = [
    context(
      3,
      `initial sync of ${fmt(count)} × 1 KiB (setup, one run)`,
      initialMs,
      `${seconds(initialMs, 1)} (${fmt((count / initialMs) * 1000)} files/s), peak RSS ${fmt(initialRssKb / 1024)} MB`,
    ),
    judged(
      3,
      'requests per no-op sync (most of any run)',
      maxRequests,
      `${fmt(maxRequests)} (${fmt(Math.max(...runs.map((r) => r.lists)))} list)`,
      '==',
      expectedLists,
      `= ${expectedLists} list calls`,
    ),
    context(
      3,
      'no-op sync / bare stat walk + listing (wall)',
      median(runs.map((r) => r.fsMs)),
      `${seconds(median(runs.map((r) => r.fsMs)))} / ${seconds(median(runs.map((r) => r.baseMs)))}`,
    ),
    judged(3, 'no-op sync ÷ (stat walk + listing)', vs, ratio(vs), '<=', 3, '≤ 3.00×'),
    judged(3, 'bytes read to hash (walk counter, most of any run)', maxHashed, `${fmt(maxHashed)} B`, '==', 0, '= 0'),
    judged(3, 'files read during the no-op runs (atime check)', filesRead, `${fmt(filesRead)} of ${fmt(count)}`, '==', 0, '= 0'),
    context(
      3,
      'no-op sync: peak RSS; all bytes read (rchar: listing, ledger, code)',
      median(runs.map((r) => r.rssKb)),
      `${fmt(median(runs.map((r) => r.rssKb)) / 1024)} MB; ${fmt(median(runs.map((r) => r.rchar)) / 1e6, 1)} MB (the tree holds ${fmt((count * size) / 1e6)} MB)`,
    ),
  ];
  return {
    row: 3,
    title: `No-op re-sync of ${fmt(count)} already-synced files`,
    figures,
    raw: { count, size, initialMs, runs, filesRead },
    notes: [
      'The baseline is one Node process that walks the tree (readdir with file types, an lstat per file, 16 at a time) and then lists the workspace (1,000 a page), each timed from spawn to exit like files-sync. "No file read" is checked twice: the walk\'s own counter of bytes hashed, and the files\' atimes (set an hour before their mtimes after the initial sync: ext4 relatime moves an atime that is older than the mtime on any read).',
    ],
  };
}
