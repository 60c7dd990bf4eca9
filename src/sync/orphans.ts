// Rule 3 of DESIGN.md, pure: which remote files are the orphans of uploads whose outcome was lost,
// matched on the server's clock; which to adopt, which to delete, and which are too ambiguous to touch.
import type { FileRow, InFlightUpload, UnclaimedCopy } from '../ledger/ledger.js';
import type { LocalFile } from '../local/types.js';
import { DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUTS } from '../remote/retry.js';
import type { FileMetadata } from '../remote/types.js';

/**
 * The skew allowance around an upload's window on the server's clock: the `Date` header's whole
 * seconds and an answer's transit, not clock drift (the offset is measured, not assumed).
 */
export const ORPHAN_SKEW_MS = 5_000;

/** Attempts one upload call makes at most (the client's default policy): the copies a crash may leave. */
export const DEFAULT_MAX_UPLOAD_ATTEMPTS = DEFAULT_RETRY_POLICY.maxAttempts;

/**
 * The longest an upload call can go on after it started, read from the client's default policy
 * (src/remote/retry.ts): each attempt waits for its answer (`responseMs`) plus the file sent at the
 * slowest planned rate, and the longest back-off the server may ask for before the next one. The
 * end of a crashed upload's window.
 */
export function uploadSpanMs(size: number): number {
  const t = DEFAULT_TIMEOUTS;
  const wait = Math.max(DEFAULT_RETRY_POLICY.maxServerWaitMs, DEFAULT_RETRY_POLICY.rateLimitMaxDelayMs);
  return DEFAULT_MAX_UPLOAD_ATTEMPTS * (t.responseMs + wait + (size * 1000) / t.uploadBytesPerSecond);
}

/** What the orphan matching needs besides the in-flight rows and the listing. */
export interface OrphanContext {
  /** Ids the ledger owns (files and pending deletes): never candidates. */
  owned: ReadonlySet<string>;
  /** Ids already recorded as unclaimed copies: never candidates again. */
  unclaimed: ReadonlySet<string>;
  localByPath: ReadonlyMap<string, LocalFile>;
  ledgerByPath: ReadonlyMap<string, FileRow>;
  /** The plan's time, local clock. */
  now: number;
  skewMs: number;
  /** Server clock minus local clock now; null when the API sent no `Date`. */
  serverOffsetMs: number | null;
  /** Attempts an upload call makes at most: the copies a crashed one may have left. */
  maxUploadAttempts: number;
}

/** What the matching decided for the rows of one complete listing. */
export interface OrphanVerdict {
  adoptions: { inFlight: InFlightUpload; file: FileMetadata; local: LocalFile & { sha256: string } }[];
  /** Copies of ours to delete, with the path of their intent. */
  orphans: { fileId: string; path: string }[];
  /** Copies no row can claim for sure: recorded, shown, never touched. */
  unclaimed: Omit<UnclaimedCopy, 'recordedAt'>[];
  /** Every in-flight row: a complete listing settles them all. */
  settled: number[];
  /** Ids matched to a row (adopted or deleted): ours. */
  claimed: Set<string>;
}

interface Window {
  row: InFlightUpload;
  /** Server clock; null when no offset is known. */
  start: number | null;
  end: number | null;
  candidates: FileMetadata[];
  /** Why the row's candidates cannot be told apart from someone else's, if so. */
  ambiguity: string | null;
}

function createdMs(file: FileMetadata): number {
  const ms = Date.parse(file.created_at);
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * The row's window on the server's clock: from its intent to the end of its last attempt. Each
 * bound is converted with the offset of the clock that read it: the row's for its own stamps, the
 * one measured now for the plan's time. (With the row's offset for both, a host clock set right
 * between a crash and this plan moved the end before the start, and no copy was found.)
 */
function windowOf(row: InFlightUpload, ctx: OrphanContext): { start: number; end: number } | null {
  const offset = row.clockOffsetMs ?? ctx.serverOffsetMs;
  if (offset === null) return null;
  const start = row.startedAt + offset;
  if (row.attemptsEndedAt !== null) return { start, end: row.attemptsEndedAt + offset };
  // A crash left no end: the call went on at most its span, and not past this plan.
  return { start, end: Math.min(start + uploadSpanMs(row.size), ctx.now + (ctx.serverOffsetMs ?? offset)) };
}

/** The copies a row's attempts may have made: its lost answers, or every attempt after a crash. */
function attemptBound(row: InFlightUpload, ctx: OrphanContext): number {
  return row.attemptsEndedAt === null ? Math.max(row.unknownOutcomes, ctx.maxUploadAttempts) : row.unknownOutcomes;
}

function windowsOf(inFlight: readonly InFlightUpload[], files: readonly FileMetadata[], ctx: OrphanContext): Window[] {
  const resolved = new Set(inFlight.flatMap((row) => (row.resolvedFileId ? [row.resolvedFileId] : [])));
  const free = (file: FileMetadata) => !ctx.owned.has(file.id) && !ctx.unclaimed.has(file.id) && !resolved.has(file.id);
  return inFlight.map((row) => {
    const w = windowOf(row, ctx);
    // Listed before the intent was written: not its copy, whatever the clock says (a `Date` has whole
    // seconds); but someone else writes this name and size, so one in the window leaves it ambiguous.
    const known = new Set(row.knownLookalikes?.split(' ') ?? []);
    const sameName = files.filter((f) => f.filename === row.remoteName && f.size_bytes === row.size && free(f));
    const alike = sameName.filter((f) => !known.has(f.id));
    const inWindow = (f: FileMetadata) => w !== null && createdMs(f) >= w.start - ctx.skewMs && createdMs(f) <= w.end + ctx.skewMs;
    if (!w) {
      // No server time to measure by: the old local-clock window only says what to report.
      const loose = 120_000;
      const end = row.attemptsEndedAt ?? row.startedAt + uploadSpanMs(row.size);
      const candidates = alike.filter((f) => createdMs(f) >= row.startedAt - loose && createdMs(f) <= end + loose);
      return {
        row,
        start: null,
        end: null,
        candidates,
        ambiguity: "the upload was not timed on the API's clock (the daemon's are not, nor any when the API sends no Date header)",
      };
    }
    const candidates = alike.filter(inWindow).sort((a, b) => createdMs(a) - createdMs(b));
    let ambiguity: string | null = null;
    const bound = attemptBound(row, ctx);
    if (candidates.length > bound) ambiguity = `${candidates.length} copies for ${bound} attempts whose answer was lost`;
    else if (candidates.some((f) => createdMs(f) < w.start)) ambiguity = 'a copy is older than the upload';
    else if (sameName.some((f) => known.has(f.id) && inWindow(f)))
      ambiguity = 'another file of that name and size was there before the upload';
    return { row, start: w.start, end: w.end, candidates, ambiguity };
  });
}

/** Marks rows that share a candidate, or that overlap in time with other content under one name. */
function crossCheck(windows: Window[], skewMs: number): void {
  const claims = new Map<string, number>();
  for (const w of windows) for (const f of w.candidates) claims.set(f.id, (claims.get(f.id) ?? 0) + 1);
  for (const w of windows) {
    if (w.ambiguity) continue;
    if (w.candidates.some((f) => (claims.get(f.id) ?? 0) > 1)) {
      w.ambiguity = 'a copy falls in the windows of two uploads';
      continue;
    }
    const other = windows.find(
      (o) =>
        o !== w &&
        o.row.remoteName === w.row.remoteName &&
        o.row.size === w.row.size &&
        // A NULL hash (hashed by its upload) is content unknown: other content, for all we know.
        (o.row.sha256 === null || o.row.sha256 !== w.row.sha256 || o.row.path !== w.row.path) &&
        (o.start === null || w.start === null || (o.start - skewMs <= w.end! + skewMs && w.start - skewMs <= o.end! + skewMs)),
    );
    if (other) w.ambiguity = `another upload (${other.row.path}) of other content under the same name and size ran at the same time`;
  }
}

/** The local file is still the one the intent was written for: same size, mtime and inode. */
function sameFileAs(row: InFlightUpload, local: LocalFile): boolean {
  return row.size === local.size && row.mtimeMs === local.mtimeMs && row.ino === local.ino;
}

/**
 * Whether a row's copy may become the path's: the local file still has the content that was sent
 * (its hash; for an intent hashed by its upload, the same file as then, hashed by this walk), and
 * the ledger holds no copy of that content newer than the attempt (a newer recorded upload wins,
 * even when the walk this plan sees is older than it: the sweep after a run).
 */
function canAdopt(
  row: InFlightUpload,
  local: LocalFile | undefined,
  current: FileRow | undefined,
  start: number,
): local is LocalFile & { sha256: string } {
  if (row.resolvedFileId !== null || local === undefined || local.sha256 === null) return false;
  const sent = row.sha256 === null ? (sameFileAs(row, local) ? local.sha256 : null) : row.sha256;
  return local.sha256 === sent && current?.sha256 !== sent && (current === undefined || Date.parse(current.uploadedAt) < start);
}

/**
 * Rule 3 on a complete listing: each in-flight row claims the remote files of its remote name and
 * size created inside its window on the server's clock ([intent - skew, end of last attempt +
 * skew]). When the evidence is clean it adopts one (the local file still has that content) and
 * deletes the rest, never more than its attempts could have made; otherwise it touches none and
 * reports them as unclaimed copies. Pure.
 */
export function matchOrphans(inFlight: readonly InFlightUpload[], files: readonly FileMetadata[], ctx: OrphanContext): OrphanVerdict {
  const verdict: OrphanVerdict = { adoptions: [], orphans: [], unclaimed: [], settled: [], claimed: new Set() };
  const windows = windowsOf(inFlight, files, ctx);
  crossCheck(windows, ctx.skewMs);
  const adoptedPaths = new Set<string>();
  const reported = new Set<string>();
  for (const w of windows) {
    const { row } = w;
    const local = ctx.localByPath.get(row.path);
    // An intent hashed by its upload, whose file is still the one sent but was not hashed by this
    // walk (the sweep after the run that sent it): row and copies wait, untouched, for the next
    // reconciliation, whose walk hashes the file of an intent, so that one copy is adopted.
    if (!w.ambiguity && row.sha256 === null && row.resolvedFileId === null && local?.sha256 === null && sameFileAs(row, local)) continue;
    verdict.settled.push(row.id);
    if (w.ambiguity) {
      for (const f of w.candidates) {
        if (reported.has(f.id)) continue;
        reported.add(f.id);
        verdict.unclaimed.push({
          fileId: f.id,
          path: row.path,
          remoteName: row.remoteName,
          size: row.size,
          // An intent hashed by its upload knew no content: empty, as for a restore window's copies.
          sha256: row.sha256 ?? '',
          createdAt: f.created_at,
          reason: w.ambiguity,
        });
      }
      continue;
    }
    const current = ctx.ledgerByPath.get(row.path);
    const adoptable = !adoptedPaths.has(row.path) && canAdopt(row, local, current, w.start!);
    let rest = w.candidates;
    if (adoptable && rest.length > 0) {
      const [first, ...others] = rest;
      verdict.adoptions.push({ inFlight: row, file: first!, local });
      adoptedPaths.add(row.path);
      rest = others;
    }
    for (const f of w.candidates) verdict.claimed.add(f.id);
    for (const f of rest) verdict.orphans.push({ fileId: f.id, path: row.path });
  }
  return verdict;
}
