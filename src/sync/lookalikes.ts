// Remote files that look like this folder's, unknown to the ledger: the same name files-sync would
// give a path and the same size. A lost or different state directory leaves them; a sync holds the
// uploads they would duplicate, and `files-sync adopt` takes them over on the user's word.
import type { FileMetadata } from '../remote/types.js';

/** A local path without a ledger row, and the workspace's files that look like its copy. */
export interface Lookalike {
  path: string;
  size: number;
  candidates: FileMetadata[];
}

/**
 * Pairs local files the ledger does not know with remote files it does not own: same remote name
 * (as `remoteName` makes it for the path), same size. Pure.
 */
export function findLookalikes(
  local: readonly { path: string; size: number }[],
  isKnownPath: (relPath: string) => boolean,
  isOwnedId: (fileId: string) => boolean,
  remote: readonly FileMetadata[],
  remoteName: (relPath: string) => string,
): Lookalike[] {
  const byKey = new Map<string, FileMetadata[]>();
  for (const file of remote) {
    if (isOwnedId(file.id)) continue;
    const key = `${file.filename}\0${file.size_bytes}`;
    byKey.set(key, [...(byKey.get(key) ?? []), file]);
  }
  const out: Lookalike[] = [];
  for (const file of local) {
    if (isKnownPath(file.path)) continue;
    const candidates = byKey.get(`${remoteName(file.path)}\0${file.size}`);
    if (candidates) out.push({ path: file.path, size: file.size, candidates });
  }
  return out;
}

/**
 * What `adopt` may take: one remote file for one path. A path with two candidates, or a remote
 * file that is the candidate of two paths, is ambiguous and adopts nothing.
 */
export function adoptable(lookalikes: readonly Lookalike[]): {
  take: { path: string; file: FileMetadata }[];
  ambiguous: string[];
} {
  const claims = new Map<string, number>();
  for (const l of lookalikes) for (const c of l.candidates) claims.set(c.id, (claims.get(c.id) ?? 0) + 1);
  const take: { path: string; file: FileMetadata }[] = [];
  const ambiguous: string[] = [];
  for (const l of lookalikes) {
    const only = l.candidates.length === 1 ? l.candidates[0]! : null;
    if (only && claims.get(only.id) === 1) take.push({ path: l.path, file: only });
    else ambiguous.push(l.path);
  }
  return { take, ambiguous };
}

/** Never a silent duplicate: whether a new path's copy seems to be in the workspace already (files it does not own, same name and size). */
export function lookalikeHold(
  lookalikes: (remoteName: string, size: number) => string | undefined,
  remoteName: (path: string) => string,
): (path: string, size: number) => boolean {
  return (path, size) => lookalikes(remoteName(path), size) !== undefined;
}

/**
 * The files of the listing that are not ours, by remote name and size: the ids (space-separated)
 * a new upload of that name and size finds already there. Its intent records them (rule 3): they
 * existed before it, so none can be its orphan, whatever the clock says. With `since` (ms, the
 * server's clock), only those created from then on: an older one can fall in no window of this
 * run's intents, and a workspace of a million foreign files is not indexed for nothing.
 */
export function lookalikesOf(
  files: readonly FileMetadata[],
  ours: (id: string) => boolean,
  since?: number,
): (remoteName: string, size: number) => string | undefined {
  const byKey = new Map<string, string>();
  for (const f of files) {
    if (ours(f.id) || (since !== undefined && !(Date.parse(f.created_at) >= since))) continue;
    const key = `${f.filename}\0${f.size_bytes}`;
    const ids = byKey.get(key);
    byKey.set(key, ids === undefined ? f.id : `${ids} ${f.id}`);
  }
  return (remoteName, size) => (byKey.size === 0 ? undefined : byKey.get(`${remoteName}\0${size}`));
}
