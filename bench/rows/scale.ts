// Row 9, "scale" (issue 13, opt-in: `npm run bench -- --rows scale [--scale-files 100000,1000000]`):
// N files of 1 KiB in nested folders. For each N: the initial sync (wall, peak RSS, requests by
// kind), no-op re-syncs (only list calls or look-ups allowed) against a bare stat walk plus the
// listing, and the daemon's start-up peak and idle RSS; then memory at the largest N against the
// smallest. Figures and targets: scale-figures.ts.
import { loadavg } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchScript, CLI, EMULATOR_KEY } from '../lib/env.js';
import { Emulator } from '../lib/emulator.js';
import { daemonMemory, procMemory } from '../lib/daemonrun.js';
import { writeConfig, type SyncReportLite } from '../lib/filesync.js';
import { expectOk, runNode, type Measured } from '../lib/proc.js';
import { ensureScaleTree } from '../lib/scaletree.js';
import { fmt, seconds } from '../lib/stats.js';
import { tempDir } from '../lib/tree.js';
import { byRoute, figuresOne, flatness, showRequests, type NoopRun, type ScaleOne } from './scale-figures.js';
import type { RowContext, RowResult } from './types.js';

export type { ScaleOne } from './scale-figures.js';

const MB = 1024;
/** Idle spell after the daemon is ready: V8 gives back the start-up's garbage within a minute or so (row 5). */
const IDLE_MS = 90_000;
const IDLE_STEP_MS = 15_000;
/** `--quick` (a try-out under two minutes): one idle sample. */
const QUICK_IDLE_MS = 15_000;

const peak = (m: Measured) => m.probe?.vmHwmKb ?? m.probe?.maxRssKb ?? NaN;
const load = () => loadavg().map((x) => Math.round(x * 10) / 10);

async function sync(url: string, root: string, stateDir: string, config: string, timeoutMs: number): Promise<Measured> {
  return runNode(CLI, ['sync', '--config', config, '--root', root, '--state-dir', stateDir, '--json'], {
    env: { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url },
    timeoutMs,
  });
}

/** One no-op re-sync (it must upload nothing) and the bare stat walk + listing after it. */
async function noopRun(ctx: RowContext, emu: Emulator, root: string, stateDir: string, config: string, files: number, capMs: number) {
  await emu.resetCounters();
  const m = expectOk(await sync(emu.url, root, stateDir, config, capMs), 'files-sync sync (no-op)');
  const r = JSON.parse(m.stdout) as SyncReportLite;
  if (r.uploaded !== 0 || r.unchanged !== files) throw new Error(`no-op sync did something: ${m.stdout.slice(0, 400)}`);
  const requests = byRoute(await emu.counters());
  const base = expectOk(
    await runNode(benchScript('clients/statwalk.js'), ['--dir', root], {
      env: { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: emu.url },
    }),
    'stat walk',
  );
  const b = JSON.parse(base.stdout) as { files: number; listed: number; walkMs: number; listMs: number };
  if (b.files !== files || b.listed !== files) throw new Error(`stat walk saw ${b.files} files and listed ${b.listed}`);
  const run: NoopRun = { fsMs: m.wallMs, peakKb: peak(m), requests, baseMs: base.wallMs, walkMs: b.walkMs, listMs: b.listMs };
  ctx.log(
    `scale ${fmt(files)}: no-op ${seconds(m.wallMs)} peak ${fmt(peak(m) / MB)} MB (${showRequests(requests)}); stat walk ${seconds(b.walkMs)} + listing ${seconds(b.listMs)} (process ${seconds(base.wallMs)}); load ${load().join(' ')}`,
  );
  return run;
}

async function measureOne(ctx: RowContext, files: number, capMs: number): Promise<ScaleOne> {
  const before = load();
  const tree = ensureScaleTree(files);
  ctx.log(
    `scale ${fmt(files)}: tree ${tree.written ? `written in ${seconds(tree.writeMs, 1)} (${tree.writer} writer)` : 'reused'} at ${tree.root}; load ${before.join(' ')}`,
  );
  const dir = tempDir('scale');
  // Content in memory: ~1 KiB a file plus ~0.5 KiB of metadata, ~1.5 GB at a million (the data
  // dir would write every upload to disk again and slow the emulator down).
  const emu = await Emulator.start();
  try {
    const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });
    const stateDir = join(dir, 'state');
    const first = await sync(emu.url, tree.root, stateDir, config, capMs);
    const capped = first.signal === 'SIGKILL';
    if (!capped) expectOk(first, 'files-sync sync (initial)');
    const report = capped ? null : (JSON.parse(first.stdout) as SyncReportLite);
    const counted = await emu.counters();
    const initial = { wallMs: first.wallMs, peakKb: peak(first), requests: byRoute(counted), capped, uploaded: report?.uploaded ?? NaN };
    const emuMem = procMemory(emu.pid);
    const emulator = { afterInitialKb: emuMem.rssKb, peakKb: emuMem.hwmKb, files: counted.files, bytes: counted.bytes };
    ctx.log(
      `scale ${fmt(files)}: initial sync ${capped ? `CAPPED at ${seconds(capMs, 0)}` : seconds(first.wallMs, 1)}, peak ${fmt(initial.peakKb / MB)} MB, ${showRequests(initial.requests)}; emulator RSS ${fmt(emuMem.rssKb / MB)} MB`,
    );
    const one: ScaleOne = { files, load: { before, after: [] }, tree, initial, noop: [], daemon: null, emulator };
    if (capped || report?.uploaded !== files) {
      one.load.after = load();
      return one;
    }
    const runs = files >= 1_000_000 || ctx.quick ? 1 : ctx.runs;
    for (let i = 0; i < runs; i++) one.noop.push(await noopRun(ctx, emu, tree.root, stateDir, config, files, capMs));
    await emu.resetCounters();
    const idleMs = ctx.quick ? QUICK_IDLE_MS : IDLE_MS;
    const d = await daemonMemory({
      url: emu.url,
      root: tree.root,
      stateDir,
      config,
      idleMs,
      idleStepMs: IDLE_STEP_MS,
      readyTimeoutMs: capMs,
    });
    one.daemon = { ...d, requests: byRoute(await emu.counters()), idleStepMs: IDLE_STEP_MS };
    emulator.peakKb = procMemory(emu.pid).hwmKb;
    ctx.log(
      `scale ${fmt(files)}: daemon ready in ${seconds(d.readyMs, 1)}, start-up peak ${fmt(d.startPeakKb / MB)} MB, idle RSS ${d.idleRssKb.map((k) => fmt(k / MB)).join(' / ')} MB; emulator peak ${fmt(emulator.peakKb / MB)} MB`,
    );
    one.load.after = load();
    return one;
  } finally {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function rowScale(ctx: RowContext): Promise<RowResult> {
  const sizes = (ctx.scaleFiles ?? [100_000]).map((n) => ctx.scale(n)).sort((a, b) => a - b);
  const capMs = (ctx.scaleCapMinutes ?? 60) * 60_000;
  const all: ScaleOne[] = [];
  for (const files of sizes) all.push(await measureOne(ctx, files, capMs));
  const figures = all.flatMap(figuresOne);
  if (all.length > 1) figures.push(...flatness(all[0]!, all.at(-1)!));
  const idleMs = ctx.quick ? QUICK_IDLE_MS : IDLE_MS;
  return {
    row: 9,
    title: `Scale (opt-in): ${sizes.map((n) => fmt(n)).join(' and ')} files of 1 KiB in nested folders`,
    figures,
    raw: { capMs, all },
    notes: [
      `Each N gets its own tree (100 files a folder, three folder levels, written once under os.tmpdir() by bench/lib/scaletree.c when gcc is there, and reused), a fresh emulator (content in memory) and a fresh state dir; the request counts come from the emulator's GET /_emulator/counters. Peak RSS is VmHWM of the files-sync process, read at its exit (bench/lib/probe.ts) or, for the daemon, from /proc/PID/status when the initial reconciliation and the watcher are done; idle RSS is VmRSS every ${IDLE_STEP_MS / 1000} s over the ${idleMs / 1000} s after that, judged on the last. The baseline is clients/statwalk.ts (readdir + lstat, 16 at a time, then the listing, 1,000 a page), timed from spawn to exit like files-sync (its walk and listing also timed inside it). An initial sync is killed after ${capMs / 60_000} min (--scale-cap-minutes) and shown as capped. At 1,000,000 files the no-op runs once.`,
    ],
  };
}
