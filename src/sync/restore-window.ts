// The restore window (DESIGN.md rule 3, after `ledger restore`), pure: which remote files may be
// copies uploaded after the restored backup was taken, which that ledger cannot know.
import type { RestoreWindow } from '../ledger/backup.js';
import type { UnclaimedCopy } from '../ledger/types.js';
import type { FileMetadata } from '../remote/types.js';

export { RESTORE_WINDOW_META_KEY, type RestoreWindow } from '../ledger/backup.js';

/** A copy to record as unclaimed. */
export type UnclaimedFinding = Omit<UnclaimedCopy, 'recordedAt'>;

/** The reason recorded for the copies a restore window finds (status shows it). */
export const RESTORE_REASON = 'uploaded after the restored backup was taken (the restored ledger cannot know it)';

/**
 * With no server offset known at all, times are compared on the local clock, loosely (the
 * orphan matching's allowance for the same case): a wider window only lists more copies, and a
 * listed copy is never deleted but on the user's word.
 */
export const UNMEASURED_SKEW_MS = 120_000;

/** What the matching needs besides the window and the listing. */
export interface RestoreMatchContext {
  /**
   * Ids not to list: the ledger's own (files, pending deletes, landed uploads), those already
   * recorded as unclaimed, and those the plan claimed as orphans or adoptions.
   */
  excluded: ReadonlySet<string>;
  /** Paths files-sync knows: the local walk's and the ledger's. */
  paths: Iterable<string>;
  /** The remote filename files-sync gives a path (the configured `remoteNames` mode). */
  remoteName: (relPath: string) => string;
  /** The server's clock minus the local one as measured now; null when the API sent no `Date`. */
  serverOffsetMs: number | null;
  /** The skew allowance (ORPHAN_SKEW_MS) around the window on the server's clock. */
  skewMs: number;
  /** This reconciliation's time, local clock: the window reaches at least to it (see serverWindow). */
  now?: number;
}

/** Parses a stored window; undefined when none is open or the value is not one. */
export function parseRestoreWindow(value: unknown): RestoreWindow | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const w = value as Partial<RestoreWindow>;
  if (typeof w.takenAt !== 'number' || typeof w.restoredAt !== 'number' || !Number.isFinite(w.takenAt) || !Number.isFinite(w.restoredAt))
    return undefined;
  const offset = typeof w.clockOffsetMs === 'number' && Number.isFinite(w.clockOffsetMs) ? w.clockOffsetMs : null;
  return {
    backup: typeof w.backup === 'string' ? w.backup : '',
    takenAt: w.takenAt,
    restoredAt: w.restoredAt,
    clockOffsetMs: offset,
  };
}

/**
 * The window on the server's clock, widened by the allowance: its start converted with the offset
 * known when the backup was taken (else the one measured now), its end with the one measured now
 * (else the backup's). With neither, the local clock and UNMEASURED_SKEW_MS. The end is at least
 * `now` (this reconciliation's time): the restore was stamped by the host's clock as it was then,
 * and a clock set right since (it ran behind) would end the window before the copies it must
 * list. Reaching further only lists more copies for the user to judge; none is ever deleted.
 */
export function serverWindow(
  window: RestoreWindow,
  serverOffsetMs: number | null,
  skewMs: number,
  now = window.restoredAt,
): { start: number; end: number; measured: boolean } {
  const startOffset = window.clockOffsetMs ?? serverOffsetMs;
  const endOffset = serverOffsetMs ?? window.clockOffsetMs;
  const endLocal = Math.max(window.restoredAt, now);
  if (startOffset === null || endOffset === null) {
    return { start: window.takenAt - UNMEASURED_SKEW_MS, end: endLocal + UNMEASURED_SKEW_MS, measured: false };
  }
  return { start: window.takenAt + startOffset - skewMs, end: endLocal + endOffset + skewMs, measured: true };
}

/**
 * The remote files to record as unclaimed copies after a restore: not excluded (not the ledger's,
 * not already recorded or claimed), created inside the window on the server's clock, and named as
 * files-sync names one of the known paths. Each is recorded against that path (the first in sort
 * order when several paths share a name). Adopts and deletes nothing: whether a copy is ours or a
 * foreign application's the API cannot say (rule 1), so the user decides. Pure.
 */
export function matchRestoreWindow(window: RestoreWindow, files: readonly FileMetadata[], ctx: RestoreMatchContext): UnclaimedFinding[] {
  const { start, end, measured } = serverWindow(window, ctx.serverOffsetMs, ctx.skewMs, ctx.now);
  const pathByName = new Map<string, string>();
  for (const p of [...new Set(ctx.paths)].sort()) {
    const name = ctx.remoteName(p);
    if (!pathByName.has(name)) pathByName.set(name, p);
  }
  const reason = measured ? RESTORE_REASON : `${RESTORE_REASON}; placed on the local clock: the server sent no Date header`;
  const found: UnclaimedFinding[] = [];
  for (const file of files) {
    if (ctx.excluded.has(file.id)) continue;
    const created = Date.parse(file.created_at);
    // An unreadable date cannot be placed in the window: not listed (it is not deleted either way).
    if (Number.isNaN(created) || created < start || created > end) continue;
    const path = pathByName.get(file.filename);
    if (path === undefined) continue;
    // The content is unknown (the listing has no hash): sha256 stays empty; forget-copies re-checks name, size and created_at.
    found.push({
      fileId: file.id,
      path,
      remoteName: file.filename,
      size: file.size_bytes,
      sha256: '',
      createdAt: file.created_at,
      reason,
    });
  }
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.createdAt.localeCompare(b.createdAt)));
}

/** What `restoreCopies` reads of the plan the listing was matched with. */
export interface PlannedClaims {
  adoptions: readonly { file: { id: string } }[];
  deletes: readonly { fileId: string }[];
  unclaimed: readonly { fileId: string }[];
}

/** What `restoreCopies` reads of the ledger (the plan's LedgerView). */
export interface LedgerClaims {
  files: readonly { path: string; fileId: string }[];
  pendingDeletes: readonly { fileId: string }[];
  inFlight: readonly { resolvedFileId: string | null }[];
  unclaimed?: readonly string[];
}

/**
 * The copies a reconciliation after a restore records as unclaimed: matchRestoreWindow over a
 * complete listing, leaving out every id the ledger or the plan already accounts for. Pure.
 */
export function restoreCopies(
  window: RestoreWindow,
  files: readonly FileMetadata[],
  ledger: LedgerClaims,
  planned: PlannedClaims,
  ctx: Omit<RestoreMatchContext, 'excluded' | 'paths'> & { localPaths: Iterable<string> },
): UnclaimedFinding[] {
  const excluded = new Set<string>([
    ...ledger.files.map((r) => r.fileId),
    ...ledger.pendingDeletes.map((r) => r.fileId),
    ...ledger.inFlight.flatMap((r) => (r.resolvedFileId ? [r.resolvedFileId] : [])),
    ...(ledger.unclaimed ?? []),
    ...planned.adoptions.map((a) => a.file.id),
    ...planned.deletes.map((d) => d.fileId),
    ...planned.unclaimed.map((u) => u.fileId),
  ]);
  const paths = [...ctx.localPaths, ...ledger.files.map((r) => r.path)];
  return matchRestoreWindow(window, files, {
    excluded,
    paths,
    remoteName: ctx.remoteName,
    serverOffsetMs: ctx.serverOffsetMs,
    skewMs: ctx.skewMs,
    ...(ctx.now !== undefined ? { now: ctx.now } : {}),
  });
}
