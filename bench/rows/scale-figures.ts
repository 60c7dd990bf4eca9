// The scale row's figures (row 9, issue 13): one N's sync, no-op, daemon and emulator figures
// beside their targets, and memory at the largest N against the smallest.
import type { EmulatorCounters } from '../lib/emulator.js';
import type { DaemonMemory } from '../lib/daemonrun.js';
import { context, fmt, judged, median, ratio, seconds, type Figure } from '../lib/stats.js';

const ROW = 9;
const MB = 1024;
/** The routes a no-op may call: the listing and the GA `ids[]` look-ups (emulator route labels). */
export const LIST_ROUTES: readonly string[] = ['GET /v1/files', 'GET /v1/files?ids[]'];

/** One no-op re-sync and its baseline. */
export interface NoopRun {
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
  tree: { written: boolean; writeMs: number; writer?: string };
  initial: { wallMs: number; peakKb: number; requests: Record<string, number>; capped: boolean; uploaded: number };
  noop: NoopRun[];
  daemon: (DaemonMemory & { requests: Record<string, number>; idleStepMs: number }) | null;
  /** The emulator process (its content kept in memory): RSS after the initial sync, and its peak. */
  emulator: { afterInitialKb: number; peakKb: number; files: number; bytes: number } | null;
}

/** Requests by route, all statuses summed (`POST /v1/files`: 100000, ...). */
export function byRoute(c: EmulatorCounters): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c.requests).map(([route, byStatus]) => [route, Object.values(byStatus).reduce((a, b) => a + b, 0)]),
  );
}

export function showRequests(r: Record<string, number>): string {
  const parts = Object.entries(r).map(([route, n]) => `${fmt(n)} ${route}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function sumOf(r: Record<string, number>, keep: (route: string) => boolean): number {
  return Object.entries(r)
    .filter(([route]) => keep(route))
    .reduce((a, [, v]) => a + v, 0);
}

function head(o: ScaleOne, n: string): Figure[] {
  const f: Figure[] = [
    context(
      ROW,
      `${n}: load average before / after (1, 5, 15 min)`,
      o.load.before[0]!,
      `${o.load.before.join(' ')} / ${o.load.after.join(' ')}`,
    ),
    context(
      ROW,
      `${n}: tree`,
      o.tree.writeMs,
      o.tree.written ? `written in ${seconds(o.tree.writeMs, 1)} (${o.tree.writer ?? '?'} writer)` : 'reused',
    ),
    context(
      ROW,
      `${n}: initial sync wall; requests`,
      o.initial.wallMs,
      `${o.initial.capped ? 'capped at ' : ''}${seconds(o.initial.wallMs, 1)} (${fmt((o.files / o.initial.wallMs) * 1000)} files/s); ${showRequests(o.initial.requests)}`,
    ),
    judged(ROW, `${n}: initial sync peak RSS`, o.initial.peakKb / MB, `${fmt(o.initial.peakKb / MB)} MB`, '<=', 300, '≤ 300 MB'),
  ];
  if (o.emulator) {
    const e = o.emulator;
    f.push(
      context(
        ROW,
        `${n}: emulator RSS after the initial sync; its peak (content in memory)`,
        e.peakKb / MB,
        `${fmt(e.afterInitialKb / MB)} MB; ${fmt(e.peakKb / MB)} MB (${fmt(e.files)} files, ${fmt(e.bytes / 2 ** 20)} MiB)`,
      ),
    );
  }
  return f;
}

function noopFigures(o: ScaleOne, n: string, big: boolean): Figure[] {
  const other = Math.max(...o.noop.map((r) => sumOf(r.requests, (route) => !LIST_ROUTES.includes(route))));
  const lists = Math.max(...o.noop.map((r) => sumOf(r.requests, (route) => LIST_ROUTES.includes(route))));
  const vs = median(o.noop.map((r) => r.fsMs / r.baseMs));
  const noopPeak = median(o.noop.map((r) => r.peakKb)) / MB;
  return [
    judged(
      ROW,
      `${n}: no-op requests other than list calls and look-ups (most of any run)`,
      other,
      `${fmt(other)} (${fmt(lists)} list calls and look-ups)`,
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
  ];
}

function daemonFigures(d: NonNullable<ScaleOne['daemon']>, n: string, big: boolean): Figure[] {
  const idle = d.idleRssKb.at(-1)! / MB;
  return [
    context(ROW, `${n}: daemon ready; start-up requests`, d.readyMs, `${seconds(d.readyMs, 1)}; ${showRequests(d.requests)}`),
    judged(
      ROW,
      `${n}: daemon start-up peak RSS`,
      d.startPeakKb / MB,
      `${fmt(d.startPeakKb / MB)} MB`,
      '<=',
      big ? 300 : 200,
      big ? '≤ 300 MB' : '≤ 200 MB',
    ),
    judged(
      ROW,
      `${n}: daemon idle RSS (every ${d.idleStepMs / 1000} s after ready, judged on the last)`,
      idle,
      `${d.idleRssKb.map((k) => fmt(k / MB)).join(' / ')} MB`,
      '<=',
      300,
      '≤ 300 MB',
    ),
  ];
}

/** The figures of one N; targets from issue 13 (the 100,000 ones below a million). */
export function figuresOne(o: ScaleOne): Figure[] {
  const n = fmt(o.files);
  const big = o.files >= 1_000_000;
  const f = head(o, n);
  if (o.noop.length === 0) return f;
  f.push(...noopFigures(o, n, big));
  if (o.daemon) f.push(...daemonFigures(o.daemon, n, big));
  return f;
}

/** Largest N against smallest: each memory figure must stay within 1.3×. */
export function flatness(small: ScaleOne, large: ScaleOne): Figure[] {
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
