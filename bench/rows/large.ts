// Row 2: one 400 MB and one 40 MB sparse file, each synced alone: files-sync's MB/s against the
// ceiling (streaming from disk), its peak RSS (the same for both sizes: nothing is buffered), and
// the SDK script's peak RSS beside it (toFile buffers the whole file).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchScript, EMULATOR_KEY } from '../lib/env.js';
import { withEmulator } from '../lib/emulator.js';
import { runSync, walkCounters, writeConfig } from '../lib/filesync.js';
import { expectOk, runNode, type Measured } from '../lib/proc.js';
import { context, fmt, judged, median, ratio, type Figure } from '../lib/stats.js';
import { makeSparseFile, tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

const TYPE = 'application/octet-stream';

interface SizeRun {
  /** `inMs`: the client's own time from its start to its end, without node's start-up. */
  ceiling: { ms: number; rssKb: number; inMs: number };
  sdk: { ms: number; rssKb: number; inMs: number };
  /** `uploadMs`: from the end of the walk (the hash) to the end of the run (the upload phase). */
  filesSync: { ms: number; rssKb: number; uploadMs: number; walkMs: number };
}

export async function rowLarge(ctx: RowContext): Promise<RowResult> {
  const sizes = [400_000_000, 40_000_000].map((n) => ctx.scale(n));
  const dir = tempDir('large');
  try {
    const config = writeConfig(join(dir, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });
    const roots = sizes.map((size) => {
      const root = join(dir, `root-${size}`);
      mkdirSync(root);
      makeSparseFile(join(root, `sparse-${size}.bin`), size);
      return root;
    });
    const runs = new Map<number, SizeRun[]>(sizes.map((s) => [s, []]));
    const rss = (m: Measured) => m.probe?.maxRssKb ?? NaN;
    for (let i = 0; i < ctx.runs; i++) {
      for (const [k, size] of sizes.entries()) {
        const root = roots[k]!;
        const env = (url: string) => ({ ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url });
        const client = async (script: string, what: string) =>
          withEmulator({ onDisk: true }, async (emu) => {
            const m = expectOk(
              await runNode(benchScript(script), ['--dir', root, '--concurrency', '8', '--type', TYPE], {
                env: env(emu.url),
              }),
              what,
            );
            const out = JSON.parse(m.stdout) as { failed: number; bytes: number; ms: number };
            if (out.failed > 0 || out.bytes !== size)
              throw new Error(`${what}: ${out.failed} failed, ${out.bytes} bytes stored of ${size}`);
            return { ms: m.wallMs, rssKb: rss(m), inMs: out.ms };
          });
        const fsRun = () =>
          withEmulator({ onDisk: true }, async (emu) => {
            const stateDir = join(dir, `state-${size}-${i}`);
            const run = await runSync({ url: emu.url, root, stateDir, config, logDebug: true });
            rmSync(stateDir, { recursive: true, force: true });
            if (run.report.uploaded !== 1 || run.report.bytesUploaded !== size)
              throw new Error(`files-sync: ${JSON.stringify(run.report)}`);
            const walked = walkCounters(run.measured.stderr);
            const walkDone = walked?.at ?? NaN;
            return {
              ms: run.measured.wallMs,
              rssKb: rss(run.measured),
              uploadMs: Date.parse(run.report.finishedAt) - walkDone,
              walkMs: walkDone - Date.parse(run.report.startedAt),
            };
          });
        // The order turns from run to run: the emulator's disk writes of one client must not
        // always fall on the same next one.
        const order = ['ceiling', 'sdk', 'filesSync'] as const;
        const results: Partial<SizeRun> = {};
        for (let k2 = 0; k2 < order.length; k2++) {
          const which = order[(k2 + i) % order.length]!;
          if (which === 'ceiling') results.ceiling = await client('clients/ceiling.js', 'ceiling');
          else if (which === 'sdk') results.sdk = await client('clients/sdk.js', 'SDK script');
          else results.filesSync = await fsRun();
        }
        const { ceiling, sdk, filesSync } = results as SizeRun;
        runs.get(size)!.push({ ceiling, sdk, filesSync });
        ctx.log(
          `row 2 run ${i + 1}, ${fmt(size / 1e6)} MB: ceiling ${fmt(ceiling.ms)} ms, SDK ${fmt(sdk.ms)} ms (${fmt(sdk.rssKb / 1024)} MB RSS), files-sync ${fmt(filesSync.ms)} ms (${fmt(filesSync.rssKb / 1024)} MB RSS)`,
        );
      }
    }
    const figures: Figure[] = [];
    const mbps = (size: number, ms: number) => size / 1e6 / (ms / 1000);
    const peakMb = (size: number, pick: (r: SizeRun) => { rssKb: number }) => median(runs.get(size)!.map((r) => pick(r).rssKb)) / 1024;
    for (const size of sizes) {
      const r = runs.get(size)!;
      const label = `${fmt(size / 1e6)} MB`;
      const vs = median(r.map((x) => x.ceiling.ms / x.filesSync.ms));
      const streaming = median(r.map((x) => x.ceiling.inMs / x.filesSync.uploadMs));
      figures.push(
        context(
          2,
          `${label}: ceiling / files-sync / SDK script`,
          null,
          `${fmt(mbps(size, median(r.map((x) => x.ceiling.ms))))} / ${fmt(mbps(size, median(r.map((x) => x.filesSync.ms))))} / ${fmt(mbps(size, median(r.map((x) => x.sdk.ms))))} MB/s`,
        ),
        judged(2, `${label}: files-sync ÷ ceiling (MB/s, whole runs)`, vs, ratio(vs), '>=', 0.8, '≥ 0.80×'),
        context(
          2,
          `${label}: where files-sync's time goes; streaming only`,
          streaming,
          `start-up and exit ${fmt(median(r.map((x) => x.filesSync.ms - x.filesSync.walkMs - x.filesSync.uploadMs)))} ms, walk + hash ${fmt(median(r.map((x) => x.filesSync.walkMs)))} ms, upload ${fmt(median(r.map((x) => x.filesSync.uploadMs)))} ms; upload ÷ ceiling's own time ${ratio(streaming)}`,
        ),
      );
    }
    const [big, small] = sizes as [number, number];
    const fsBig = peakMb(big, (r) => r.filesSync);
    const fsSmall = peakMb(small, (r) => r.filesSync);
    figures.push(
      judged(2, `files-sync peak RSS, ${fmt(big / 1e6)} MB file`, fsBig, `${fmt(fsBig)} MB`, '<=', 150, '≤ 150 MB'),
      judged(2, `files-sync peak RSS, ${fmt(small / 1e6)} MB file`, fsSmall, `${fmt(fsSmall)} MB`, '<=', 150, '≤ 150 MB'),
      judged(
        2,
        'files-sync peak RSS, |400 MB run − 40 MB run|',
        Math.abs(fsBig - fsSmall),
        `${fmt(Math.abs(fsBig - fsSmall), 1)} MB`,
        '<=',
        20,
        '≤ 20 MB',
      ),
      context(
        2,
        'SDK script peak RSS, 400 MB / 40 MB file',
        peakMb(big, (r) => r.sdk),
        `${fmt(peakMb(big, (r) => r.sdk))} MB / ${fmt(peakMb(small, (r) => r.sdk))} MB`,
      ),
      context(
        2,
        'ceiling peak RSS, 400 MB / 40 MB file',
        peakMb(big, (r) => r.ceiling),
        `${fmt(peakMb(big, (r) => r.ceiling))} MB / ${fmt(peakMb(small, (r) => r.ceiling))} MB`,
      ),
    );
    return {
      row: 2,
      title: `Large files: ${sizes.map((s) => `${fmt(s / 1e6)} MB`).join(' and ')} sparse, each synced alone`,
      figures,
      raw: { sizes, runs: Object.fromEntries(runs) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
