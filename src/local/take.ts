// The take of one file the walk named: lstat it (or open it at once when the ledger does not know
// it), then reuse the ledger's hash or hash it (entry.ts). Shared by `walk` and the reconciliation's
// merge, which runs many at once while the walk goes on.
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs';
import {
  type ScanOptions,
  type Taken,
  fsCode,
  fsReason,
  problem,
  specialReason,
  takeFile,
  takeUnknownFile,
  undecodable,
  undecodableProblem,
} from './entry.js';
import type { KnownFile } from './types.js';
import type { WalkItem } from './sorted-walk.js';

/** What a take needs besides the item: the scan's options, the root's real path, and the path's known row. */
export interface TakeContext {
  options: ScanOptions;
  realRoot: string;
  /** Called when the take finds a folder where the walk listed a file: the walk missed what is under it. */
  onUnseenFolder: () => void;
}

/**
 * Takes the file `item` names, with `known` (the ledger's row, if any) to skip hashing an unchanged
 * file. A folder or link found where the listing said file is a problem (`changing`): the next
 * scan takes it as what it is now.
 */
export async function takeItem(item: Extract<WalkItem, { kind: 'file' }>, known: KnownFile | undefined, ctx: TakeContext): Promise<Taken> {
  const options: ScanOptions = { ...ctx.options, known: () => known };
  if (item.target) return takeFile(item.path, item.target.real, item.target.info, options, ctx.realRoot);
  if (known === undefined) {
    const taken = await takeUnknownFile(item.path, item.abs, options, ctx.realRoot);
    if (taken !== undefined) return taken;
  }
  let info: Stats;
  try {
    info = await lstatOf(item.abs);
  } catch (err) {
    const code = fsCode(err);
    if (code === undefined) throw err;
    // Not found under its text: gone, or a name that did not decode (another file, see entry.ts).
    if (code === 'ENOENT' || code === 'ENOTDIR') return undecodable(item.path) ? undecodableProblem(item.path) : { kind: 'missing' };
    return problem(item.path, 'unreadable', fsReason(code, err));
  }
  if (info.isFile()) return takeFile(item.path, item.abs, info, options, ctx.realRoot);
  if (info.isDirectory()) {
    ctx.onUnseenFolder();
    return problem(item.path, 'changing', 'it became a folder during the scan; the next scan walks it');
  }
  if (info.isSymbolicLink()) {
    return options.followSymlinks
      ? problem(item.path, 'changing', 'it was replaced by a symlink during the scan; the next scan follows it')
      : { kind: 'skipped', reason: 'symlink' };
  }
  return { kind: 'skipped', reason: specialReason(info) };
}

/** lstat through the callback API: a third of the cost of fs/promises' in a walk of many files. */
function lstatOf(file: string): Promise<Stats> {
  return new Promise((resolve, reject) => lstat(file, (err, stats) => (err ? reject(err) : resolve(stats))));
}
