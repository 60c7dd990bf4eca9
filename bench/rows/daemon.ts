// Row 5: the daemon watching the 100,000 synced files of row 3: its RSS, its CPU while idle for
// 60 s, and write → remote latency over 200 single-file writes, minus the settle time.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { benchScript, CLI, EMULATOR_KEY, pinned } from '../lib/env.js';
import { syncedTree } from '../lib/fixture.js';
import type { ProbeReport } from '../lib/probe.js';
import { exited } from '../lib/proc.js';
import { context, fmt, judged, percentile, seconds, type Figure } from '../lib/stats.js';
import type { RowContext, RowResult } from './types.js';

const WRITES = 200;
/** One write every this often; each file's latency is measured on its own (open loop). */
const SPACING_MS = 250;
/** The default settle time, subtracted from each latency. */
const SETTLE_MS = 2_000;
const IDLE_WINDOWS = 3;
const IDLE_WINDOW_MS = 20_000;

/** Resident set and CPU time of a live process, from /proc. */
function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Clock ticks per second for /proc/PID/stat (USER_HZ): 100 on Linux. */
const TICKS_PER_SECOND = 100;

export async function rowDaemon(ctx: RowContext): Promise<RowResult> {
  const count = ctx.scale(100_000);
  const fx = await syncedTree(ctx, count);
  const headers = {
    'x-api-key': EMULATOR_KEY,
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'files-api-2025-04-14',
  };
  const probeOut = join(tmpdir(), `files-sync-bench-daemon-probe-${process.pid}.json`);
  const [cmd, argv] = pinned(1, process.execPath, [
    '--import',
    pathToFileURL(benchScript('lib/probe.js')).href,
    CLI,
    'daemon',
    '--config',
    fx.config,
    '--root',
    fx.tree.root,
    '--state-dir',
    fx.stateDir,
    '--log-format',
    'json',
  ]);
  const started = performance.now();
  const child = spawn(cmd, argv, {
    env: { ...process.env, ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: fx.emu.url, BENCH_PROBE_OUT: probeOut },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const seen = (message: string) => lines.some((l) => l.includes(message));
  const pid = child.pid!;
  try {
    for (const deadline = performance.now() + 600_000; !(seen('initial reconciliation done') && seen('"message":"watching'));) {
      if (child.exitCode !== null) throw new Error(`the daemon exited ${child.exitCode}: ${lines.slice(-10).join('\n')}`);
      if (performance.now() > deadline) throw new Error(`the daemon was not ready after 10 minutes: ${lines.slice(-10).join('\n')}`);
      await sleep(200);
    }
    const readyMs = performance.now() - started;
    ctx.log(`row 5: daemon ready (initial reconciliation done, ${fmt(count)} files watched) after ${seconds(readyMs, 1)}`);
    // The folder for the writes, made now so that its own event is over before the idle window.
    const writeDir = join(fx.tree.root, 'bench-latency');
    mkdirSync(writeDir);
    await sleep(3_000);

    const ready = procStatus(pid);
    const idleWindows = async (): Promise<number[]> => {
      const ticks: number[] = [];
      for (let w = 0; w < IDLE_WINDOWS; w++) {
        const before = cpuTicks(pid);
        await sleep(IDLE_WINDOW_MS);
        ticks.push(cpuTicks(pid) - before);
      }
      return ticks;
    };
    const ticksMs = (ticks: number[]) => (ticks.reduce((a, b) => a + b, 0) * 1000) / TICKS_PER_SECOND;
    // The first minute after start-up: V8 collects the start-up's garbage once in it.
    const firstTicks = await idleWindows();
    ctx.log(`row 5: first minute after start-up: CPU ${fmt(ticksMs(firstTicks))} ms, RSS ${fmt(procStatus(pid).rssKb / 1024)} MB`);

    // The emulator's clock (performance.timeOrigin + now) against ours (Date.now): a seeded file tells.
    const offset = async () => {
      const t0 = Date.now();
      const res = await fetch(`${fx.emu.url}/_emulator/seed`, {
        method: 'POST',
        body: JSON.stringify({ filename: 'clock-probe.txt', content_base64: '' }),
        headers: { 'content-type': 'application/json' },
      });
      const t1 = Date.now();
      const created = Date.parse(((await res.json()) as { created_at: string }).created_at);
      return created - (t0 + t1) / 2;
    };
    const offsetBefore = await offset();
    const written: number[] = [];
    const t = performance.now();
    for (let i = 0; i < WRITES; i++) {
      writeFileSync(join(writeDir, `w-${String(i).padStart(3, '0')}.txt`), `write ${i} at ${Date.now()}\n`);
      written.push(Date.now());
      const next = t + (i + 1) * SPACING_MS;
      await sleep(Math.max(0, next - performance.now()));
    }
    const created = new Map<string, number>();
    for (const deadline = Date.now() + 60_000; created.size < WRITES && Date.now() < deadline;) {
      await sleep(1_000);
      const res = await fetch(`${fx.emu.url}/v1/files?limit=1000`, { headers });
      const page = (await res.json()) as { data: { filename: string; created_at: string }[] };
      for (const f of page.data) if (f.filename.startsWith('bench-latency\u2215')) created.set(f.filename, Date.parse(f.created_at));
    }
    const offsetMs = (offsetBefore + (await offset())) / 2;
    const latencies: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const at = created.get(`bench-latency\u2215w-${String(i).padStart(3, '0')}.txt`);
      if (at !== undefined) latencies.push(at - offsetMs - written[i]! - SETTLE_MS);
    }
    ctx.log(
      `row 5: ${latencies.length} of ${WRITES} writes remote; p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(percentile(latencies, 99))} ms after the settle time`,
    );
    // Steady state: a quiet minute after the writes.
    await sleep(5_000);
    const idleTicks = await idleWindows();
    const idle = procStatus(pid);
    const idleCpuMs = ticksMs(idleTicks);
    ctx.log(`row 5: idle minute: CPU ${fmt(idleCpuMs)} ms, RSS ${fmt(idle.rssKb / 1024)} MB`);
    child.kill('SIGTERM');
    await exited(child);
    let probe: ProbeReport | null = null;
    try {
      probe = JSON.parse(readFileSync(probeOut, 'utf8')) as ProbeReport;
    } catch {
      probe = null;
    }
    const warnings = lines.filter((l) => /"level":"(warn|error)"/.test(l));
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const idlePct = (idleCpuMs / (IDLE_WINDOWS * IDLE_WINDOW_MS)) * 100;
    const figures: Figure[] = [
      context(5, 'start-up: initial reconciliation and watcher ready', readyMs, seconds(readyMs, 1)),
      judged(5, `RSS watching ${fmt(count)} files (idle)`, idle.rssKb / 1024, `${fmt(idle.rssKb / 1024)} MB`, '<=', 300, '≤ 300 MB'),
      context(
        5,
        'RSS: 3 s after start-up / peak over the run',
        ready.rssKb / 1024,
        `${fmt(ready.rssKb / 1024)} MB / ${fmt((probe?.maxRssKb ?? idle.hwmKb) / 1024)} MB`,
      ),
      judged(
        5,
        `CPU while idle, ${(IDLE_WINDOWS * IDLE_WINDOW_MS) / 1000} s`,
        idlePct,
        `${fmt(idleCpuMs)} ms (${fmt(idlePct, 2)}% of a core; 20-s windows: ${idleTicks.map((x) => fmt((x * 1000) / TICKS_PER_SECOND)).join(', ')} ms)`,
        '<=',
        1,
        '≈ 0 (≤ 1% of a core)',
      ),
      context(
        5,
        'CPU in the first minute after start-up',
        ticksMs(firstTicks),
        `${fmt(ticksMs(firstTicks))} ms (20-s windows: ${firstTicks.map((x) => fmt((x * 1000) / TICKS_PER_SECOND)).join(', ')} ms)`,
      ),
      judged(5, `write → remote p50 − settle (${WRITES} writes)`, p50, `${fmt(p50)} ms`, '<=', 250, '≤ 250 ms'),
      context(5, 'write → remote p99 − settle; writes that arrived', p99, `${fmt(p99)} ms; ${latencies.length} of ${WRITES}`),
    ];
    if (warnings.length > 0)
      figures.push(context(5, 'daemon warnings and errors logged', warnings.length, `${warnings.length}: ${warnings[0]!.slice(0, 120)}`));
    return {
      row: 5,
      title: `Daemon: ${fmt(count)} watched files, idle CPU, write → remote latency`,
      figures,
      raw: {
        count,
        readyMs,
        ready,
        idle,
        firstTicks,
        idleTicks,
        latencies,
        offsetMs,
        peakRssKb: probe?.maxRssKb ?? null,
        warnings: warnings.slice(0, 20),
      },
      notes: [
        `One daemon run (\`files-sync daemon\`, settleSeconds 2, pinned to core 1) on the synced tree of row 3: CPU from /proc/PID/stat (utime + stime) in ${IDLE_WINDOWS} windows of ${IDLE_WINDOW_MS / 1000} s over the first minute after start-up, then ${WRITES} new files written ${SPACING_MS} ms apart into a new folder, then CPU over a quiet minute and RSS (/proc/PID/status) at its end. Each latency is the file's created_at in the emulator (corrected by the clock offset a seeded file shows) minus the moment its write returned, minus the ${SETTLE_MS / 1000} s settle time; p50 and p99 are over the ${WRITES} writes, so this row is one run, not the median of three.`,
      ],
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    rmSync(probeOut, { force: true });
  }
}
