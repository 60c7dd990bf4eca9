// `npm run bench`: runs the six rows of issue 5 and row 7 of issue 12 (files-sync against the official SDK and the
// loopback ceiling), prints each figure beside its target, and writes BENCHMARKS.md and
// bench/results/latest.json. Options: --rows 1,3 (a subset), --runs N (default 3), --quick (counts
// divided by 10, results only printed and kept in bench/results/tmp/). Opt-in: --rows scale (row 9,
// issue 13) with --scale-files 100000,1000000 and --scale-cap-minutes M.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBuilt, machineInfo, REPO } from './lib/env.js';
import { disposeFixtures } from './lib/fixture.js';
import { consoleLines, writeResults, type BenchRun } from './lib/report.js';
import { rowDaemon } from './rows/daemon.js';
import { rowHash } from './rows/hash.js';
import { rowLarge } from './rows/large.js';
import { rowNoop } from './rows/noop.js';
import { rowOwned } from './rows/owned.js';
import { rowScale } from './rows/scale.js';
import { rowRateLimit } from './rows/ratelimit.js';
import { rowSmall } from './rows/small.js';
import type { RowContext, RowResult } from './rows/types.js';
import { scriptArgs } from './lib/args.js';

const ROWS: Record<number, (ctx: RowContext) => Promise<RowResult>> = {
  1: rowSmall,
  2: rowLarge,
  3: rowNoop,
  4: rowRateLimit,
  5: rowDaemon,
  6: rowHash,
  7: rowOwned,
  9: rowScale,
};
/** The rows `npm run bench` runs; a run of all of them rewrites BENCHMARKS.md's table. */
const DEFAULT_ROWS = [1, 2, 3, 4, 5, 6, 7];
/** Opt-in rows by name; not in the default set. */
const NAMED: Record<string, number> = { scale: 9 };

/** Everything below this line in BENCHMARKS.md is written by hand and kept across runs. */
const KEEP_MARKER = '<!-- Written by hand below this line; npm run bench keeps it. -->';

const USAGE = `usage: npm run bench -- [--rows 1,3] [--runs N] [--quick] [--rows scale --scale-files 100000,1000000 --scale-cap-minutes M]
  --rows R,…             a subset of the rows 1 to 7 (default: all; a run of all rewrites BENCHMARKS.md's table)
  --runs N               runs per row (default 3, at least 3 unless --quick)
  --quick                counts divided by 10; results only printed and kept in bench/results/tmp/
  --rows scale           the opt-in scale row (issue 13), with --scale-files and --scale-cap-minutes
`;
const values = scriptArgs(USAGE, {
  rows: { type: 'string' },
  runs: { type: 'string' },
  quick: { type: 'boolean', default: false },
  'scale-files': { type: 'string' },
  'scale-cap-minutes': { type: 'string' },
});
const quick = values.quick === true;
const asked = values.rows ? values.rows.split(',') : DEFAULT_ROWS.map(String);
const unknown = asked.filter((r) => !ROWS[NAMED[r] ?? Number(r)]);
if (unknown.length > 0) {
  process.stderr.write(`no row ${unknown.join(', ')}: the rows are 1 to 7, and scale\n\n${USAGE}`);
  process.exit(2);
}
const rows = asked.map((r) => NAMED[r] ?? Number(r));
const runs = values.runs === undefined ? (quick ? 1 : 3) : Math.max(quick ? 1 : 3, Number(values.runs));

checkBuilt();
const started = new Date();
const t0 = performance.now();
const log = (line: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const ctx: RowContext = { runs, quick, scale: (n) => (quick ? Math.max(1, Math.round(n / 10)) : n), log };
if (values['scale-files']) ctx.scaleFiles = values['scale-files'].split(',').map(Number);
if (values['scale-cap-minutes']) ctx.scaleCapMinutes = Number(values['scale-cap-minutes']);
const results: RowResult[] = [];
let failed = false;
for (const r of rows) {
  log(`row ${r}…`);
  const rowStart = performance.now();
  try {
    const result = await ROWS[r]!(ctx);
    results.push(result);
    for (const line of consoleLines(result)) process.stdout.write(`${line}\n`);
  } catch (err) {
    failed = true;
    log(`row ${r} failed: ${(err as Error).stack ?? String(err)}`);
    results.push({
      row: r,
      title: 'failed',
      figures: [{ row: r, name: 'row failed', value: null, shown: String((err as Error).message).split('\n')[0]!, ok: false }],
      raw: null,
    });
  }
  log(`row ${r} took ${((performance.now() - rowStart) / 1000).toFixed(0)} s`);
}
await disposeFixtures();
const run: BenchRun = {
  startedAt: started.toISOString(),
  finishedAt: new Date().toISOString(),
  totalSeconds: (performance.now() - t0) / 1000,
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  runsPerFigure: runs,
  machine: machineInfo(),
  rows: results,
};
// Every default row, not quick, none failed: the table is rewritten (an opt-in row run beside them joins it).
// Counting ROWS instead, which holds the opt-in scale row too, left every default run partial.
if (quick || failed || !DEFAULT_ROWS.every((r) => rows.includes(r))) {
  const dir = join(REPO, 'bench', 'results', 'tmp');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'partial.json'), `${JSON.stringify(run, null, 2)}\n`);
  log(`partial run: BENCHMARKS.md left alone; figures in bench/results/tmp/partial.json`);
} else {
  const mdPath = join(REPO, 'BENCHMARKS.md');
  const kept = existsSync(mdPath) ? (readFileSync(mdPath, 'utf8').split(KEEP_MARKER)[1] ?? '') : '';
  const head =
    'Issue 5: files-sync against the official SDK script and the loopback ceiling. Written by `npm run bench` (bench/run.ts); the notes after the table are kept.';
  const { md, json } = writeResults(run, head, `${KEEP_MARKER}${kept || '\n'}`);
  log(`wrote ${md} and ${json}`);
}
log(`done in ${Math.round(run.totalSeconds)} s`);
process.exitCode = failed ? 1 : 0;
