// What a person sees of a sync: the progress bar on a terminal (plain lines elsewhere) and the
// closing summary.
import type { Progress } from './sync/execute.js';
import { ALREADY_REMOTE, type SyncReport } from './sync/reconcile.js';

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
    const done = phase === 'sync' && p.filesDone === p.filesTotal;
    if (!done && t - this.lastDraw < (this.tty ? 100 : 5000)) return;
    this.lastDraw = t;
    const line = phase === 'scan' ? `scanning: ${p.filesDone} files` : this.syncLine(p, t);
    if (this.tty) {
      const width = Math.max(20, (this.out.columns ?? 80) - 1);
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
    const eta = share > 0 && share < 1 ? ` ETA ${formatDuration((elapsed / share) * (1 - share))}` : '';
    return `${bar} ${p.filesDone}/${p.filesTotal} files, ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}, ${formatBytes(rate)}/s${eta}`;
  }
}

/** The closing summary of a sync, as lines. */
export function summaryLines(r: SyncReport): string[] {
  const lines: string[] = [];
  if (r.dryRun && r.planned) {
    lines.push(`dry run: ${r.planned.uploads.length} uploads and ${r.planned.deletes.length} deletes planned; nothing was changed`);
    for (const u of r.planned.uploads) lines.push(`  upload  ${u.path} (${u.reason})`);
    for (const d of r.planned.deletes) lines.push(`  delete  ${d.path ?? '(no path)'} ${d.fileId} (${d.reason})`);
  } else {
    lines.push(
      `uploaded ${r.uploaded - r.replaced}, replaced ${r.replaced}, deleted ${r.deleted}, unchanged ${r.unchanged}, failed ${r.failed.length}` +
        (r.adopted > 0 ? `, adopted ${r.adopted}` : ''),
    );
    lines.push(`${formatBytes(r.bytesUploaded)} uploaded, ${r.apiRequests} API requests, ${formatDuration(r.finishedAt - r.startedAt)}`);
  }
  for (const f of r.failed) lines.push(`failed: ${f.path}: ${f.reason}`);
  if (r.held) {
    lines.push(`held: ${r.held.count} deletes: ${r.held.reason}`);
    for (const p of r.held.paths.slice(0, 10)) lines.push(`  held  ${p}`);
    if (r.held.paths.length > 10) lines.push(`  … and ${r.held.paths.length - 10} more`);
  }
  if (r.alreadyRemote?.length) lines.push(`held: ${ALREADY_REMOTE(r.alreadyRemote.length)}`);
  if (r.deletesBlocked) lines.push(`no remote file was deleted: ${r.deletesBlocked}`);
  return lines;
}
