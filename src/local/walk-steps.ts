// The walk's building blocks that touch no walk state: listing one directory safely, naming why a
// directory was lost, and the bounded pool that runs the walk's tasks.
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { FileConditionError } from '../file-errors.js';
import { openDirInRoot } from '../safe-open.js';
import { fsCode, undecodable } from './entry.js';
import type { LocalProblem } from './types.js';

/**
 * Lists the directory whose real path is `abs` through a descriptor opened without following a
 * link and checked to be at `abs` (open.ts), so a directory swapped for a link, or reached through
 * a swapped parent, is refused instead of listing another folder under this one's name.
 */
export async function listDirectory(abs: string): Promise<Dirent[]> {
  const dir = await openDirInRoot(abs, abs);
  let entries: Dirent[];
  try {
    entries = await readdir(dir.listPath, { withFileTypes: true });
  } catch (err) {
    // The listing's own error is the one to report; closing may only add "it changed" to it.
    await dir.close().catch(() => undefined);
    throw err;
  }
  await dir.close();
  return entries;
}

/** Why a directory could not be listed: the problem to record, and the RootError reason for the root. */
export function lostDirectory(rel: string, err: unknown): { problem: LocalProblem; rootReason: 'missing' | 'unreadable' | 'changed' } {
  if (err instanceof FileConditionError) return { problem: { path: rel, kind: 'changing', reason: err.message }, rootReason: 'changed' };
  const code = fsCode(err);
  if (code === undefined) throw err;
  if (undecodable(rel))
    return {
      problem: { path: rel, kind: 'unreadable', reason: 'the name is not valid UTF-8' },
      rootReason: 'unreadable',
    };
  if (code === 'ENOENT')
    return {
      problem: { path: rel, kind: 'changing', reason: 'the folder vanished or was renamed during the scan' },
      rootReason: 'missing',
    };
  return {
    problem: { path: rel, kind: 'unreadable', reason: `${code}: ${(err as Error).message}` },
    rootReason: 'unreadable',
  };
}

/**
 * Runs `run` over a growing stack of tasks with at most `concurrency` in flight (depth first,
 * so the stack stays small). On a failure or an abort no task starts any more; the promise
 * rejects once the tasks in flight have settled, so nothing outlives the walk.
 */
export function runPool<T>(
  initial: T[],
  concurrency: number,
  signal: AbortSignal | undefined,
  run: (task: T, queue: T[]) => Promise<void>,
): Promise<void> {
  const limit = Math.max(1, Math.floor(concurrency));
  return new Promise<void>((resolve, reject) => {
    const queue = [...initial];
    let active = 0;
    let failure: { error: unknown } | undefined;
    const pump = () => {
      if (failure === undefined && signal?.aborted) failure = { error: signal.reason };
      while (failure === undefined && active < limit && queue.length > 0) {
        const task = queue.pop()!;
        active++;
        run(task, queue).then(
          () => {
            active--;
            pump();
          },
          (error: unknown) => {
            active--;
            failure ??= { error };
            pump();
          },
        );
      }
      if (active > 0) return;
      if (failure !== undefined)
        reject(failure.error); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors -- the task's own error, unchanged
      else if (queue.length === 0) resolve();
    };
    pump();
  });
}
