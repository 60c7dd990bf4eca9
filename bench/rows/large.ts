// Row 2: one 400 MB and one 40 MB sparse file, each synced alone: files-sync's MB/s against the
// ceiling (streaming from disk), its peak RSS (the same for both sizes: nothing is buffered), and
// the SDK script's peak RSS beside it (toFile buffers the whole file).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { benchScript, EMULATOR_KEY } from '../lib/env.js';
import { withEmulator } from '../lib/emulator.js';
import { runSync, writeConfig } from '../lib/filesync.js';
import { expectOk, runNode, type Measured } from '../lib/proc.js';
import { context, fmt, judged, median, ratio, type Figure } from '../lib/stats.js';
import { makeSparseFile, tempDir } from '../lib/tree.js';
import type { RowContext, RowResult } from './types.js';

const TYPE = 'application/octet-stream';

interface SizeRun {
  ceiling: { ms: number; rssKb: number };
  sdk: { ms: number; rssKb: number };
  filesSync: { ms: number; rssKb: number };
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
            const m = expectOk(await runNode(benchScript(script), ['--dir', root, '--concurrency', '8', '--type', TYPE], { env: env(emu.url) }), what);
            const out = JSON.parse(m.stdout) as { failed: number; bytes: number };
            if (out.failed > 0 || out.bytes !== size) throw new Error(`${what}: ${out.failed} failed, ${out.bytes} bytes stored of ${size}`);
            return { ms: m.wallMs, rssKb: rss(m) };
          });
        const ceiling = await client('clients/ceiling.js', 'ceiling');
        const sdk = await client('clients/sdk.js', 'SDK script');
        const filesSync = await withEmulator({ onDisk: true }, async (emu) => {
          const stateDir = join(dir, `state-${size}-${i}`);
          const run = await runSync({ url: emu.url, root, stateDir, config });
          rmSync(stateDir, { recursive: true, force: true });
          if (run.report.uploaded !== 1 || run.report.bytesUploaded !== size) throw new Error(`files-sync: ${JSON.stringify(run.report)}`);
          return { ms: run.measured.wallMs, rssKb: rss(run.measured) };
        });
        runs.get(size)!.push({ ceiling, sdk, filesSync });
        ctx.log(`row 2 run ${i + 1}, ${fmt(size / 1e6)} MB: ceiling ${fmt(ceiling.ms)} ms, SDK ${fmt(sdk.ms)} ms (${fmt(sdk.rssKb / 1024)} MB RSS), files-sync ${fmt(filesSync.ms)} ms (${fmt(filesSync.rssKb / 1024)} MB RSS)`);
      }
    }
    const figures: Figure[] = [];
    const mbps = (size: number, ms: number) => size / 1e6 / (ms / 1000);
    const peakMb = (size: number, pick: (r: SizeRun) => { rssKb: number }) => median(runs.get(size)!.map((r) => pick(r).rssKb)) / 1024;
    for (const size of sizes) {
      const r = runs.get(size)!;
      const label = `${fmt(size / 1e6)} MB`;
      const vs = median(r.map((x) => x.ceiling.ms / x.filesSync.ms));
      figures.push(
        context(2, `${label}: ceiling / files-sync / SDK script`, null, `${fmt(mbps(size, median(r.map((x) => x.ceiling.ms))))} / ${fmt(mbps(size, median(r.map((x) => x.filesSync.ms))))} / ${fmt(mbps(size, median(r.map((x) => x.sdk.ms))))} MB/s`),
        judged(2, `${label}: files-sync ÷ ceiling (MB/s)`, vs, ratio(vs), '>=', 0.8, '≥ 0.80×'),
      );
    }
    const [big, small] = sizes as [number, number];
    const fsBig = peakMb(big, (r) => r.filesSync);
    const fsSmall = peakMb(small, (r) => r.filesSync);
    figures.push(
      judged(2, `files-sync peak RSS, ${fmt(big / 1e6)} MB file`, fsBig, `${fmt(fsBig)} MB`, '<=', 150, '≤ 150 MB'),
      judged(2, `files-sync peak RSS, ${fmt(small / 1e6)} MB file`, fsSmall, `${fmt(fsSmall)} MB`, '<=', 150, '≤ 150 MB'),
      judged(2, 'files-sync peak RSS, |400 MB run − 40 MB run|', Math.abs(fsBig - fsSmall), `${fmt(Math.abs(fsBig - fsSmall), 1)} MB`, '<=', 20, '≤ 20 MB'),
      context(2, 'SDK script peak RSS, 400 MB / 40 MB file', peakMb(big, (r) => r.sdk), `${fmt(peakMb(big, (r) => r.sdk))} MB / ${fmt(peakMb(small, (r) => r.sdk))} MB`),
      context(2, 'ceiling peak RSS, 400 MB / 40 MB file', peakMb(big, (r) => r.ceiling), `${fmt(peakMb(big, (r) => r.ceiling))} MB / ${fmt(peakMb(small, (r) => r.ceiling))} MB`),
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
