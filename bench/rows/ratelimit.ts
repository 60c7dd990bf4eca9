// Row 4: the emulator limited to 60 requests a minute, 100 files, `requestsPerMinute: 60`: files-sync
// draws no 429 and finishes close to the ideal; the SDK script beside it. Each run has its own
// emulator (its own limit), so the runs go side by side: they are rate-bound, not CPU-bound.
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { benchScript, EMULATOR_KEY } from '../lib/env.js';
import { statusCount, totalRequests, withEmulator } from '../lib/emulator.js';
import { runSync, writeConfig } from '../lib/filesync.js';
import { runNode } from '../lib/proc.js';
import { context, fmt, judged, median, ratio, seconds, type Figure } from '../lib/stats.js';
import { makeSmallTree, tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

const LIMIT = 60;
/** Delay between the starts of successive runs. */
const STAGGER_MS = 10_000;
const WINDOW_MS = 60_000;

/**
 * The ideal wall time for `requests` under a sliding window of `limit` per `windowMs`: the first
 * `limit` requests go at once, and each further batch of `limit` must wait a whole window after the
 * batch before it, so the last request cannot leave before floor((requests − 1) / limit) windows.
 * Transfer times on loopback are a few milliseconds and are left out.
 */
export function idealMs(requests: number, limit = LIMIT, windowMs = WINDOW_MS): number {
  return Math.floor((requests - 1) / limit) * windowMs;
}

export async function rowRateLimit(ctx: RowContext): Promise<RowResult> {
  const count = 100;
  const dir = tempDir('ratelimit');
  try {
    const tree = makeSmallTree(join(dir, 'root'), count, 4096);
    const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: LIMIT });
    const rateLimit = { requests: LIMIT, windowMs: WINDOW_MS };
    const env = (url: string) => ({ ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url });
    const filesSyncRun = (i: number) =>
      withEmulator({ rateLimit }, async (emu) => {
        const stateDir = join(dir, `state-${i}`);
        const run = await runSync({ url: emu.url, root: tree.root, stateDir, config });
        const c = await emu.counters();
        if (run.report.uploaded !== count) throw new Error(`files-sync uploaded ${run.report.uploaded} of ${count}`);
        return { ms: run.measured.wallMs, requests: totalRequests(c), r429: statusCount(c, '429') };
      });
    const sdkRun = () =>
      withEmulator({ rateLimit }, async (emu) => {
        const m = await runNode(benchScript('clients/sdk.js'), ['--dir', tree.root, '--concurrency', '8'], {
          env: env(emu.url),
          timeoutMs: 600_000,
        });
        const out = JSON.parse(m.stdout) as { failed: number; errors: Record<string, number> };
        const c = await emu.counters();
        return {
          ms: m.wallMs,
          requests: totalRequests(c),
          r429: statusCount(c, '429'),
          failed: out.failed,
          stored: c.files,
        };
      });
    ctx.log(
      `row 4: ${ctx.runs} files-sync runs and ${ctx.runs} SDK script runs, each against its own emulator, started ${STAGGER_MS / 1000} s apart (~2 minutes)`,
    );
    // Staggered so that no two runs start (or send their second minute's batch) at the same moment.
    const after = <T>(ms: number, run: () => Promise<T>) => sleep(ms).then(run);
    const all = await Promise.all([
      ...Array.from({ length: ctx.runs }, (_, i) => after(2 * i * STAGGER_MS, () => filesSyncRun(i))),
      ...Array.from({ length: ctx.runs }, (_, i) => after((2 * i + 1) * STAGGER_MS, sdkRun)),
    ]);
    const fs = all.slice(0, ctx.runs) as Awaited<ReturnType<typeof filesSyncRun>>[];
    const sdk = all.slice(ctx.runs) as Awaited<ReturnType<typeof sdkRun>>[];
    for (const [i, r] of fs.entries()) ctx.log(`row 4 files-sync run ${i + 1}: ${fmt(r.ms)} ms, ${r.requests} requests, ${r.r429} × 429`);
    for (const [i, r] of sdk.entries())
      ctx.log(`row 4 SDK run ${i + 1}: ${fmt(r.ms)} ms, ${r.requests} requests, ${r.r429} × 429, ${r.failed} uploads failed`);

    const requests = count + Math.ceil(count / 1000);
    const ideal = idealMs(requests);
    const wall = median(fs.map((r) => r.ms));
    const figures: Figure[] = [
      judged(
        4,
        'files-sync 429 answers (most of any run)',
        Math.max(...fs.map((r) => r.r429)),
        fmt(Math.max(...fs.map((r) => r.r429))),
        '==',
        0,
        '= 0',
      ),
      context(4, `files-sync wall / ideal (${requests} requests at ${LIMIT}/min)`, wall, `${seconds(wall, 1)} / ${seconds(ideal, 1)}`),
      judged(4, 'files-sync ÷ ideal (wall)', wall / ideal, ratio(wall / ideal), '<=', 1.1, '≤ 1.10×'),
      context(
        4,
        'SDK script: wall, 429 answers, uploads failed (medians)',
        median(sdk.map((r) => r.ms)),
        `${seconds(median(sdk.map((r) => r.ms)), 1)}, ${fmt(median(sdk.map((r) => r.r429)))} × 429, ${fmt(median(sdk.map((r) => r.failed)))} of ${count} failed`,
      ),
    ];
    return {
      row: 4,
      title: `Rate limit: emulator at ${LIMIT} requests/min, ${count} files, requestsPerMinute ${LIMIT}`,
      figures,
      raw: { count, requests, idealMs: ideal, filesSync: fs, sdk },
      notes: [
        `Ideal = floor((R − 1) / L) × W for R = ${requests} requests (${count} uploads + ${Math.ceil(count / 1000)} list call) under a sliding window of L = ${LIMIT} per W = 60 s: the first ${LIMIT} requests go at once (the first window's burst), the remaining ${requests - LIMIT} wait until the first leave the window, one minute later; transfer times on loopback (milliseconds) are left out. So the ideal is ${seconds(ideal, 0)}, not the ${seconds((requests / LIMIT) * 60_000, 0)} of R / 60 per minute.`,
        `The runs overlap, each against its own emulator and limit, started ${STAGGER_MS / 1000} s apart so that their bursts do not meet: they spend the minute waiting, not computing.`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
