// Finding files-sync's state marker in a folder (rule 9: a folder holding ours is never synced,
// whatever its name), shared by the walk's listings, the daemon's per-path jobs and followed links.
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_MARKER, isOwnStateMarker } from '../private.js';

/** What a folder says of files-sync's state marker: `ours` (a state directory, never synced), `foreign` (another's: ignored), `none`. */
export type StateMarkerVerdict = 'ours' | 'foreign' | 'none';

/**
 * The verdict on the STATE_MARKER at `file`: ours only as a regular file of this user or root in
 * a folder (`folder`: its stat, asked for once the marker is seen) of theirs that no one else may
 * write (`isOwnStateMarker`).
 */
export async function markerAt(file: string, folder: () => Promise<Stats>): Promise<StateMarkerVerdict> {
  try {
    return isOwnStateMarker(await lstat(file), await folder()) ? 'ours' : 'foreign';
  } catch (err) {
    // Removed since listed: none. One that cannot be looked at is not known to be ours: its folder is synced.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : 'foreign';
  }
}

/**
 * Whether the folder at `dirAbs` holds files-sync's own state marker: one lstat, for the daemon's
 * jobs on one path and for a followed link's target (the walk sees the marker in its listings).
 */
export async function holdsOwnStateMarker(dirAbs: string): Promise<boolean> {
  return (await markerAt(join(dirAbs, STATE_MARKER), () => lstat(dirAbs))) === 'ours';
}
