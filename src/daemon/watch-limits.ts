// The kernel's inotify limits, read from /proc, and the one sentence that says which to raise, and
// to what, when watching the root failed on one of them.
import { readFile } from 'node:fs/promises';
import type { PathFilter } from '../local/types.js';
import { foldersUnder } from '../local/walk-steps.js';

/** /proc/sys/fs/inotify/`name`, or null when it cannot be read (not Linux, a container without it). */
export async function readLimit(name: string): Promise<number | null> {
  try {
    const value = Number((await readFile(`/proc/sys/fs/inotify/${name}`, 'utf8')).trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * One sentence: which kernel limit to raise for this root, and to what. `read` reads a limit
 * (`readLimit`; null when /proc/sys cannot be read, as under the unit's ProcSubset=pid).
 */
export async function limitAdvice(root: string, filter: PathFilter, code: string, read = readLimit): Promise<string> {
  const dirs = await countDirectories(root, filter);
  const watches = await read('max_user_watches');
  // Watches are counted per user over every program: leave room for the others.
  const suggested = Math.ceil(((watches ?? 0) + dirs) / 8192) * 8192;
  const raise =
    watches === null
      ? `raise fs.inotify.max_user_watches by at least ${dirs} over its current value (which this process cannot read; "sysctl fs.inotify.max_user_watches" shows it): ${dirs} directories need one watch each (and a file in /etc/sysctl.d/ to keep it)`
      : `raise fs.inotify.max_user_watches (now ${watches}) to at least ${suggested}: ${dirs} directories need one watch each ("sysctl fs.inotify.max_user_watches=${suggested}", and a file in /etc/sysctl.d/ to keep it)`;
  if (code === 'ENOSPC') return `the inotify watch limit is reached; ${raise}`;
  const instances = await read('max_user_instances');
  return `too many open files or inotify instances; raise the open-file limit (LimitNOFILE=) or fs.inotify.max_user_instances${instances === null ? '' : ` (now ${instances})`}, and ${raise}`;
}

/**
 * Directories the watcher would watch under `root` (the root included), through the filter. Each
 * is listed as the walk lists it (DESIGN.md rule 8: no link followed, the real path checked), so a
 * folder swapped for a link to another outside the root is not counted into.
 */
export async function countDirectories(root: string, filter: PathFilter): Promise<number> {
  let count = 0;
  for await (const _ of foldersUnder(root, '', filter)) count++;
  return Math.max(count, 1); // the root, even gone
}
