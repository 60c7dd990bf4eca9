// Row 9, "scale" (issue 13, opt-in: `npm run bench -- --rows scale [--scale-files 100000,1000000]`):
// N files of 1 KiB in nested folders. For each N: the initial sync (wall, peak RSS, requests by
// kind), no-op re-syncs (only list calls allowed) against a bare stat walk plus the listing, and
// the daemon's start-up peak and idle RSS; then memory at the largest N against the smallest.
import { loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchScript, CLI, EMULATOR_KEY } from '../lib/env.js';
import { Emulator, type EmulatorCounters } from '../lib/emulator.js';
import { daemonMemory, type DaemonMemory } from '../lib/daemonrun.js';
import { writeConfig, type SyncReportLite } from '../lib/filesync.js';
import { expectOk, runNode, type Measured } from '../lib/proc.js';
import { ensureScaleTree } from '../lib/scaletree.js';
import { context, fmt, judged, median, ratio, seconds, type Figure } from '../lib/stats.js';
import { tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

const ROW = 9;
const MB = 1024;
/** Idle spell after the daemon is ready: V8 gives back the start-up's garbage within a minute or so (row 5). */
const IDLE_MS = 90_000;
const IDLE_STEP_MS = 15_000;

interface NoopRun {
  fsMs: number;
  peakKb: number;
  requests: Record<string, number>;
  baseMs: number;
  walkMs: number;
  listMs: number;
}

/** What one N measured. */
export interface ScaleOne {
  files: number;
  load: { before: number[]; after: number[] };
  tree: { written: boolean; writeMs: number };
  initial: { wallMs: number; peakKb: number; requests: Record<string, number>; capped: boolean; uploaded: number };
  noop: NoopRun[];
  daemon: (DaemonMemory & { requests: Record<string, number> }) | null;
}

/** Requests by route, all statuses summed (`POST /v1/files`: 100000, ...). */
function byRoute(c: EmulatorCounters): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c.requests).map(([route, byStatus]) => [route, Object.values(byStatus).reduce((a, b) => a + b, 0)]),
  );
}

function showRequests(r: Record<string, number>): string {
  const parts = Object.entries(r).map(([route, n]) => `${fmt(n)} ${route}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

const peak = (m: Measured) => m.probe?.vmHwmKb ?? m.probe?.maxRssKb ?? NaN;
const load = () => loadavg().map((x) => Math.round(x * 10) / 10);

async function sync(url: string, root: string, stateDir: string, config: string, timeoutMs: number): Promise<Measured> {
  return runNode(CLI, ['sync', '--config', config, '--root', root, '--state-dir', stateDir, '--json'], {
    env: { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url },
    timeoutMs,
  });
}

async function measureOne(ctx: RowContext, files: number, capMs: number): Promise<ScaleOne> {
  const before = load();
  const tree = ensureScaleTree(files);
  ctx.log(
    `scale ${fmt(files)}: tree ${tree.written ? `written in ${seconds(tree.writeMs, 1)}` : 'reused'} at ${tree.root}; load ${before.join(' ')}`,
  );
  const dir = tempDir('scale');
  const emu = await Emulator.start();
  try {
    const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });
    const stateDir = join(dir, 'state');
    const first = await sync(emu.url, tree.root, stateDir, config, capMs);
    const capped = first.signal === 'SIGKILL';
    if (!capped) expectOk(first, 'files-sync sync (initial)');
    const report = capped ? null : (JSON.parse(first.stdout) as SyncReportLite);
    const initial = {
      wallMs: first.wallMs,
      peakKb: peak(first),
      requests: byRoute(await emu.counters()),
      capped,
      uploaded: report?.uploaded ?? NaN,
    };
    ctx.log(
      `scale ${fmt(files)}: initial sync ${capped ? `CAPPED at ${seconds(capMs, 0)}` : seconds(first.wallMs, 1)}, peak ${fmt(initial.peakKb / MB)} MB, ${showRequests(initial.requests)}`,
    );
    const one: ScaleOne = { files, load: { before, after: [] }, tree, initial, noop: [], daemon: null };
    if (capped || report?.uploaded !== files) {
      one.load.after = load();
      return one;
    }
    const runs = files >= 1_000_000 ? 1 : ctx.runs;
    for (let i = 0; i < runs; i++) {
      await emu.resetCounters();
      const m = expectOk(await sync(emu.url, tree.root, stateDir, config, capMs), 'files-sync sync (no-op)');
      const r = JSON.parse(m.stdout) as SyncReportLite;
      if (r.uploaded !== 0 || r.unchanged !== files) throw new Error(`no-op sync did something: ${m.stdout.slice(0, 400)}`);
      const requests = byRoute(await emu.counters());
      const base = expectOk(
        await runNode(benchScript('clients/statwalk.js'), ['--dir', tree.root], {
          env: { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: emu.url },
        }),
        'stat walk',
      );
      const b = JSON.parse(base.stdout) as { files: number; listed: number; walkMs: number; listMs: number };
      if (b.files !== files || b.listed !== files) throw new Error(`stat walk saw ${b.files} files and listed ${b.listed}`);
      one.noop.push({
        fsMs: m.wallMs,
        peakKb: peak(m),
        requests,
        baseMs: base.wallMs,
        walkMs: b.walkMs,
        listMs: b.listMs,
      });
      ctx.log(
        `scale ${fmt(files)}: no-op ${seconds(m.wallMs)} peak ${fmt(peak(m) / MB)} MB (${showRequests(requests)}); stat walk ${seconds(b.walkMs)} + listing ${seconds(b.listMs)} (process ${seconds(base.wallMs)}); load ${load().join(' ')}`,
      );
    }
    await emu.resetCounters();
    const d = await daemonMemory({
      url: emu.url,
      root: tree.root,
      stateDir,
      config,
      idleMs: IDLE_MS,
      idleStepMs: IDLE_STEP_MS,
      readyTimeoutMs: capMs,
    });
    one.daemon = { ...d, requests: byRoute(await emu.counters()) };
    ctx.log(
      `scale ${fmt(files)}: daemon ready in ${seconds(d.readyMs, 1)}, start-up peak ${fmt(d.startPeakKb / MB)} MB, idle RSS ${d.idleRssKb.map((k) => fmt(k / MB)).join(' / ')} MB`,
    );
    one.load.after = load();
    return one;
  } finally {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures of one N; targets from issue 13 (the 100,000 ones below a million). */
function figuresOne(o: ScaleOne): Figure[] {
  const n = fmt(o.files);
  const big = o.files >= 1_000_000;
  const f: Figure[] = [
    context(
      ROW,
      `${n}: load average before / after (1, 5, 15 min)`,
      o.load.before[0]!,
      `${o.load.before.join(' ')} / ${o.load.after.join(' ')}`,
    ),
    context(
      ROW,
      `${n}: initial sync wall; requests`,
      o.initial.wallMs,
      `${o.initial.capped ? 'capped at ' : ''}${seconds(o.initial.wallMs, 1)} (${fmt((o.files / o.initial.wallMs) * 1000)} files/s); ${showRequests(o.initial.requests)}`,
    ),
    judged(ROW, `${n}: initial sync peak RSS`, o.initial.peakKb / MB, `${fmt(o.initial.peakKb / MB)} MB`, '<=', 300, '≤ 300 MB'),
  ];
  if (o.noop.length === 0) return f;
  const other = Math.max(
    ...o.noop.map((r) =>
      Object.entries(r.requests)
        .filter(([k]) => k !== 'GET /v1/files')
        .reduce((a, [, v]) => a + v, 0),
    ),
  );
  const lists = Math.max(...o.noop.map((r) => r.requests['GET /v1/files'] ?? 0));
  const vs = median(o.noop.map((r) => r.fsMs / r.baseMs));
  const noopPeak = median(o.noop.map((r) => r.peakKb)) / MB;
  f.push(
    judged(
      ROW,
      `${n}: no-op requests other than list calls (most of any run)`,
      other,
      `${fmt(other)} (${fmt(lists)} list calls)`,
      '==',
      0,
      '= 0',
    ),
    context(
      ROW,
      `${n}: no-op wall / stat walk + listing, process wall (walk; listing)`,
      median(o.noop.map((r) => r.fsMs)),
      `${seconds(median(o.noop.map((r) => r.fsMs)))} / ${seconds(median(o.noop.map((r) => r.baseMs)))} (${seconds(median(o.noop.map((r) => r.walkMs)))}; ${seconds(median(o.noop.map((r) => r.listMs)))})`,
    ),
    judged(ROW, `${n}: no-op ÷ (stat walk + listing)`, vs, ratio(vs), '<=', 2, '≤ 2.00×'),
    judged(ROW, `${n}: no-op peak RSS`, noopPeak, `${fmt(noopPeak)} MB`, '<=', big ? 300 : 150, big ? '≤ 300 MB' : '≤ 150 MB'),
  );
  if (!o.daemon) return f;
  const idle = o.daemon.idleRssKb.at(-1)! / MB;
  f.push(
    context(
      ROW,
      `${n}: daemon ready; start-up requests`,
      o.daemon.readyMs,
      `${seconds(o.daemon.readyMs, 1)}; ${showRequests(o.daemon.requests)}`,
    ),
    judged(
      ROW,
      `${n}: daemon start-up peak RSS`,
      o.daemon.startPeakKb / MB,
      `${fmt(o.daemon.startPeakKb / MB)} MB`,
      '<=',
      big ? 300 : 200,
      big ? '≤ 300 MB' : '≤ 200 MB',
    ),
    judged(
      ROW,
      `${n}: daemon idle RSS (every ${IDLE_STEP_MS / 1000} s after ready, judged on the last)`,
      idle,
      `${o.daemon.idleRssKb.map((k) => fmt(k / MB)).join(' / ')} MB`,
      '<=',
      300,
      '≤ 300 MB',
    ),
  );
  return f;
}

/** Largest N against smallest: each memory figure must stay within 1.3×. */
function flatness(small: ScaleOne, large: ScaleOne): Figure[] {
  const pairs: [string, number | undefined, number | undefined][] = [
    ['initial sync peak', small.initial.peakKb, large.initial.peakKb],
    ['no-op peak', median(small.noop.map((r) => r.peakKb)), median(large.noop.map((r) => r.peakKb))],
    ['daemon start-up peak', small.daemon?.startPeakKb, large.daemon?.startPeakKb],
    ['daemon idle', small.daemon?.idleRssKb.at(-1), large.daemon?.idleRssKb.at(-1)],
  ];
  const name = `${fmt(large.files)} ÷ ${fmt(small.files)}`;
  return pairs.map(([what, a, b]) => {
    const r = a && b ? b / a : NaN;
    return judged(ROW, `memory ${name}: ${what}`, r, Number.isFinite(r) ? ratio(r) : 'not measured', '<=', 1.3, '≤ 1.30×');
  });
}

export async function rowScale(ctx: RowContext): Promise<RowResult> {
  const sizes = (ctx.scaleFiles ?? [100_000]).map((n) => ctx.scale(n)).sort((a, b) => a - b);
  const capMs = (ctx.scaleCapMinutes ?? 60) * 60_000;
  const all: ScaleOne[] = [];
  for (const files of sizes) all.push(await measureOne(ctx, files, capMs));
  const figures = all.flatMap(figuresOne);
  if (all.length > 1) figures.push(...flatness(all[0]!, all.at(-1)!));
  return {
    row: ROW,
    title: `Scale (opt-in): ${sizes.map((n) => fmt(n)).join(' and ')} files of 1 KiB in nested folders`,
    figures,
    raw: { capMs, all },
    notes: [
      `Each N gets its own tree (100 files a folder, three folder levels, written once under os.tmpdir() and reused), a fresh in-memory emulator and a fresh state dir. Peak RSS is VmHWM of the files-sync process, read at its exit (bench/lib/probe.ts) or, for the daemon, from /proc/PID/status when the initial reconciliation and the watcher are done; idle RSS is VmRSS every ${IDLE_STEP_MS / 1000} s over the ${IDLE_MS / 1000} s after that, judged on the last. The baseline is clients/statwalk.ts (readdir + lstat, 16 at a time, then the listing, 1,000 a page), timed from spawn to exit like files-sync (its walk and listing also timed inside it). An initial sync is killed after ${capMs / 60_000} min (--scale-cap-minutes) and shown as capped.`,
    ],
  };
}
