// What a person sees of a sync: the progress bar on a terminal (plain lines elsewhere) and the
// closing summary.
import { escapeText } from '../escape.js';
import type { Progress } from './types.js';
import { ALREADY_REMOTE, type Counts, type SyncReport } from './reconcile.js';
import { heldAsLookalikes, UNSEEN_KEPT } from './outcome.js';
import { append } from '../arrays.js';
import { HELD_SAMPLE } from './decide.js';

/** "1 file", "2 files": a count with its noun, singular or plural. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** Human byte counts: 1.5 MB, 320 KB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 'B';
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`;
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Draws progress: on a terminal one bar redrawn in place (files, bytes, rate, ETA), at most 10
 * times a second; elsewhere a plain line every few seconds, so logs stay readable.
 */
export class ProgressView {
  private lastDraw = 0;
  private drawn = false;
  private readonly startedAt: number;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  update(phase: 'scan' | 'sync', p: Progress): void {
    const t = this.now();
    // Throttled always: a reconciliation decides as it goes, so "all done" is only known at its end
    // (the summary), and a queue that catches up with the walk is no reason for a line per file.
    if (t - this.lastDraw < (this.tty ? 100 : 5000)) return;
    this.lastDraw = t;
    const line = phase === 'scan' ? `scanning: ${p.filesDone} files` : this.syncLine(p, t);
    if (this.tty) {
      // A terminal that reports 0 columns (some CI consoles, a detached pty) gets the whole line.
      const columns = this.out.columns || 0;
      const width = columns > 20 ? columns - 1 : line.length;
      this.out.write(`\r${line.slice(0, width).padEnd(width)}`);
      this.drawn = true;
    } else if (phase === 'sync' && p.filesTotal > 0) {
      this.out.write(`${line}\n`);
    }
  }

  /** Clears the bar before the summary is printed. */
  finish(): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  private syncLine(p: Progress, t: number): string {
    const elapsed = Math.max(1, t - this.startedAt);
    const rate = p.bytesDone / (elapsed / 1000);
    const share = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
    const width = 20;
    const filled = Math.round(share * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    // No ETA until there is something to go by: 2 s and 1% in, at least.
    const eta = share >= 0.01 && share < 1 && elapsed >= 2000 ? ` ETA ${formatDuration((elapsed / share) * (1 - share))}` : '';
    return `${bar} ${p.filesDone}/${plural(p.filesTotal, 'file')}, ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}, ${formatBytes(rate)}/s${eta}`;
  }
}

/** The counts in the one vocabulary, as the human line, `status` and the daemon's log say them. */
export function countsLine(c: Counts): string {
  return (
    `${c.new} new, ${c.changed} changed, ${c.removed} removed, ${c.unchanged} unchanged, ${c.failed} failed, ${c.skipped} skipped; ` +
    `${plural(c.oldCopiesDeleted, 'old copy', 'old copies')} deleted, ${plural(c.orphansCleaned, 'orphan')} cleaned` +
    (c.deletesFailed ? `, ${plural(c.deletesFailed, 'delete')} failed` : '')
  );
}

/**
 * At most `max` lines of a list, then how many more there are: of `total` when the list is itself
 * only the first items of a counted whole (a held delete keeps ten paths and its count).
 */
function some<T>(items: readonly T[], line: (item: T) => string, max = 10, total = items.length): string[] {
  const lines = items.slice(0, max).map(line);
  if (total > lines.length) lines.push(`  … and ${total - lines.length} more`);
  return lines;
}

function dryRunLines(r: SyncReport, planned: NonNullable<SyncReport['planned']>): string[] {
  const c = r.counts;
  const lines = [
    `dry run: ${countsLine(c)}`,
    `would upload ${plural(planned.uploads.length, 'file')}, ${formatBytes(planned.bytesToUpload)}; nothing was changed`,
  ];
  for (const u of planned.uploads) lines.push(`  ${u.reason.padEnd(8)} ${u.path}  (${formatBytes(u.size)})`);
  for (const d of planned.deletes)
    lines.push(`  ${d.reason.padEnd(8)} ${d.path ?? '(no path)'}  ${d.fileId}${d.size === null ? '' : ` (${formatBytes(d.size)})`}`);
  return lines;
}

/** The line for old copies of moved files kept until their new paths are stored (a sync's summary, the daemon's log). */
export function movesWaitingLine(n: number): string {
  return `kept: ${plural(n, 'moved file keeps its', 'moved files keep their')} old copy until the new path is uploaded`;
}

/** The closing summary of a sync, as lines; names and reasons escaped (rule 9). */
export function summaryLines(r: SyncReport): string[] {
  return rawSummaryLines(r).map((line) => escapeText(line));
}

function rawSummaryLines(r: SyncReport): string[] {
  const lines: string[] = [];
  if (r.dryRun && r.planned) append(lines, dryRunLines(r, r.planned));
  else {
    lines.push(countsLine(r.counts));
    lines.push(
      `${formatBytes(r.bytesUploaded)} uploaded, ${plural(r.apiRequests, 'API request')}, ${formatDuration(r.finishedAt - r.startedAt)}`,
    );
  }
  append(
    lines,
    some(r.failed, (f) => `failed: ${f.path}: ${f.reason}`, 50, Math.max(r.counts.failed, r.failed.length)),
  );
  if (r.counts.deletesFailed) {
    lines.push(`${plural(r.counts.deletesFailed, 'delete')} failed: the copies stay in the workspace and are retried by the next run`);
    append(
      lines,
      some(r.failedDeletes ?? [], (d) => `delete failed: ${d.path ?? '(no path)'} (${d.fileId}): ${d.reason}`, 50, r.counts.deletesFailed),
    );
  }
  append(
    lines,
    some(r.skipped, (f) => `skipped: ${f.path}: ${f.reason}`, 10, Math.max(r.counts.skipped, r.skipped.length)),
  );
  if (r.held) {
    lines.push(`held: ${plural(r.held.count, 'delete')}: ${r.held.reason}`);
    // The report keeps the first paths only (the count is the whole): the rest are counted.
    append(
      lines,
      some(r.held.paths, (p) => `  held  ${p}`, HELD_SAMPLE, r.held.count),
    );
  }
  if (heldAsLookalikes(r) > 0) lines.push(`held: ${ALREADY_REMOTE(heldAsLookalikes(r))}`);
  if (r.deletesBlocked) lines.push(`no remote file was deleted: ${r.deletesBlocked}`);
  if (r.movesWaiting) lines.push(movesWaitingLine(r.movesWaiting));
  if (r.unseenKept) lines.push(UNSEEN_KEPT(r.unseenKept));
  return lines;
}
