// The remote side of a reconciliation: the whole listing, or (GA) look-ups of the ids files-sync
// owns plus the newest files back to the oldest open upload, whichever costs fewer requests.
import type { FileRow, InFlightUpload, PendingDelete } from '../ledger/types.js';
import type { FileMetadata, RemoteFiles } from '../remote/types.js';
import type { RemoteView } from './plan.js';

/** Ids a look-up takes (files-api.md); files a list page holds. */
export const LOOKUP_BATCH = 100;
export const LIST_PAGE = 1000;

/** Look-ups run at once: few enough to leave the rate limit to transfers, enough to overlap round trips. */
const LOOKUP_CONCURRENCY = 4;

/** The ledger meta key of what the last full listing saw. */
export const WORKSPACE_META_KEY = 'remote_workspace';

/** What the last complete full listing saw, kept in the ledger's meta. */
export interface WorkspaceSeen {
  /** Files listed (owned and foreign). */
  total: number;
  /** Files of other applications among them (what `status` shows). */
  foreign: number;
  /** When it ran (ms since the epoch, local clock). */
  listedAt: number;
}

/** How the remote side is read this run, and why. */
export interface RemoteChoice {
  mode: 'full' | 'owned';
  reason: string;
}

/** What the choice needs to know. */
export interface ChoiceInput {
  /** The client can look ids up (GA). */
  canLookup: boolean;
  /** Owned ids to check. */
  owned: number;
  seen: WorkspaceSeen | undefined;
  now: number;
  /** A full listing at least this often (`api.fullListHours`). */
  fullListHours: number;
  /** Why a full listing is needed this run whatever it costs (a restore window is open), if it is. */
  forceFull?: string | undefined;
}

/**
 * Picks the cheaper way to read the remote side: `ceil(owned/100)` look-ups against
 * `ceil(total/1000)` list pages, from the workspace size the last full listing saw. A full
 * listing runs anyway without a look-up (beta), without a size seen yet, and once `fullListHours`
 * have passed since the last one (so `status` can count foreign files). Pure.
 */
export function chooseRemoteMode(input: ChoiceInput): RemoteChoice {
  if (!input.canLookup) return { mode: 'full', reason: 'the contract has no ids[] look-up' };
  if (input.forceFull) return { mode: 'full', reason: input.forceFull };
  if (!input.seen) return { mode: 'full', reason: 'no full listing seen yet' };
  if (input.now - input.seen.listedAt >= input.fullListHours * 3_600_000)
    return { mode: 'full', reason: `the last full listing is over ${input.fullListHours} h old` };
  const lookups = Math.ceil(input.owned / LOOKUP_BATCH);
  const pages = Math.max(1, Math.ceil(input.seen.total / LIST_PAGE));
  if (lookups < pages) return { mode: 'owned', reason: `${lookups} look-ups instead of ${pages} list pages` };
  return { mode: 'full', reason: `${pages} list pages cost no more than ${lookups} look-ups` };
}

/** What reading the remote side needs from the ledger and the run. */
export interface RemoteViewInput {
  remote: RemoteFiles;
  files: readonly FileRow[];
  pendingDeletes: readonly PendingDelete[];
  inFlight: readonly InFlightUpload[];
  seen: WorkspaceSeen | undefined;
  now: number;
  fullListHours: number;
  /** Remote files created this much before an upload's start still count as its orphans. */
  orphanSkewMs: number;
  /** Why this run must read the whole listing (a restore window is open: ChoiceInput.forceFull). */
  forceFull?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** The remote view the planner consumes, how it was read, and the foreign count to report. */
export interface RemoteSide {
  view: RemoteView;
  choice: RemoteChoice;
  /** Look-ups only: foreign files as the last full listing saw them (null: never listed). A full listing leaves the count to the planner. */
  foreign: number | null;
  /** Set after a full listing: what to keep in the ledger's meta. */
  seen: WorkspaceSeen | null;
  /** What was read (look-up requests, files listed), for logs. */
  requests: { lookups: number; listedFiles: number };
}

/**
 * Reads the remote side. Either way the view holds every owned id that still resolves and every
 * file created since the oldest open upload began (less the skew), so it is complete for
 * everything the planner asks of it: missing copies, pending deletes already gone, and orphans.
 * A file whose `expires_at` has passed (on the API's clock) is left out where it is a path's
 * current copy: its content is gone, so the path is uploaded again. Any failed request rejects,
 * so no partial view ever reaches the planner (rule 4).
 */
export async function readRemoteSide(input: RemoteViewInput): Promise<RemoteSide> {
  const owned = ownedIds(input);
  const choice = chooseRemoteMode({
    canLookup: canLookup(input.remote),
    owned: owned.length,
    seen: input.seen,
    now: input.now,
    fullListHours: input.fullListHours,
    forceFull: input.forceFull,
  });
  const requests = { lookups: 0, listedFiles: 0 };
  let files: FileMetadata[];
  if (choice.mode === 'owned') {
    const [found, recent] = await Promise.all([
      lookupAll(input.remote, owned, requests, input.signal),
      listSince(input.remote, orphanBound(input), requests, input.signal),
    ]);
    const byId = new Map(found.map((f) => [f.id, f]));
    for (const f of recent) byId.set(f.id, f);
    files = [...byId.values()];
  } else {
    files = await listSince(input.remote, -Infinity, requests, input.signal);
  }
  const current = new Set(input.files.map((row) => row.fileId));
  const serverNow = input.remote.serverNow?.() ?? input.now;
  const live = files.filter((f) => !(current.has(f.id) && expired(f, serverNow)));
  if (choice.mode === 'owned')
    return {
      view: { files: live, complete: true },
      choice,
      foreign: input.seen?.foreign ?? null,
      seen: null,
      requests,
    };
  const ownedSet = new Set(owned);
  const foreign = files.filter((f) => !ownedSet.has(f.id)).length;
  return {
    view: { files: live, complete: true },
    choice,
    foreign: null,
    seen: { total: files.length, foreign, listedAt: input.now },
    requests,
  };
}

/**
 * What to keep in the ledger's meta after a run: a full listing's count, or the last one's, moved
 * by the files the run itself added and removed (so the next choice sees this run's uploads);
 * undefined when nothing is known.
 */
export function seenAfterRun(
  side: RemoteSide,
  stored: WorkspaceSeen | undefined,
  uploaded: number,
  deleted: number,
): WorkspaceSeen | undefined {
  const base = side.seen ?? stored;
  if (!base) return undefined;
  return { ...base, total: Math.max(0, base.total + uploaded - deleted) };
}

/** Whether a file's `expires_at` has passed at `now` (ms). */
export function expired(file: FileMetadata, now: number): boolean {
  if (file.expires_at == null) return false;
  const at = Date.parse(file.expires_at);
  return !Number.isNaN(at) && at <= now;
}

function canLookup(remote: RemoteFiles): boolean {
  return remote.contract === 'ga' && typeof remote.lookup === 'function';
}

/** Every id the ledger owns: current copies, pending deletes, and uploads known to have landed. */
function ownedIds(input: RemoteViewInput): string[] {
  const ids = new Set<string>();
  for (const row of input.files) ids.add(row.fileId);
  for (const row of input.pendingDeletes) ids.add(row.fileId);
  for (const row of input.inFlight) if (row.resolvedFileId) ids.add(row.resolvedFileId);
  return [...ids];
}

/**
 * Oldest creation time (ms, on the server's clock: `created_at` is the server's) an orphan of an
 * open upload can have; Infinity when none is open. A row is converted with the offset it recorded,
 * else the one the client measured; with neither, the bound is unknown and the whole listing is read.
 */
function orphanBound(input: RemoteViewInput): number {
  if (input.inFlight.length === 0) return Infinity;
  const measured = input.remote.clockOffsetMs?.();
  const starts = input.inFlight.map((row) => {
    const offset = row.clockOffsetMs ?? measured;
    return offset === undefined || offset === null ? -Infinity : row.startedAt + offset;
  });
  return Math.min(...starts) - input.orphanSkewMs;
}

/** The owned ids that still resolve, 100 a request, a few requests at once. */
async function lookupAll(
  remote: RemoteFiles,
  ids: string[],
  requests: RemoteSide['requests'],
  signal: AbortSignal | undefined,
): Promise<FileMetadata[]> {
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += LOOKUP_BATCH) batches.push(ids.slice(i, i + LOOKUP_BATCH));
  const found: FileMetadata[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      requests.lookups++;
      found.push(...(await remote.lookup!(batch, signal ? { signal } : {})));
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUP_CONCURRENCY, batches.length) }, worker));
  return found;
}

/** The listing, newest first, down to files created at `boundMs`; nothing when the bound is Infinity. */
async function listSince(
  remote: RemoteFiles,
  boundMs: number,
  requests: RemoteSide['requests'],
  signal: AbortSignal | undefined,
): Promise<FileMetadata[]> {
  const out: FileMetadata[] = [];
  if (boundMs === Infinity) return out;
  for await (const file of remote.list(signal ? { signal } : {})) {
    const created = Date.parse(file.created_at);
    // Newest first: the first file older than the bound ends the walk (an unreadable date does not).
    if (!Number.isNaN(created) && created < boundMs) break;
    out.push(file);
  }
  requests.listedFiles = out.length;
  return out;
}
