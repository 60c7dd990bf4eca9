// The executor's waits and presence check against the real clock and file system (tests pass their own).
import fs from 'node:fs/promises';

/** Sleeps `ms`; an abort rejects with the signal's own reason, as Node's timers do. */
export const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an abort rejects with the signal's own reason, as Node's timers do
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an abort rejects with the signal's own reason, as Node's timers do
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * How long to wait before a file is read (rule 5: `settleMs` unchanged), at `now`. An mtime in the
 * past says how long the file has been still. One in the future says nothing: the clock that
 * stamped it runs ahead of this host's (an NFS server, a tree unpacked from a machine whose clock
 * was wrong), so the run's own sighting counts: `seenAt`, a moment after the walk's stat, which
 * the upload's open checks is still the file's. Unseen, a future mtime waits the whole time.
 */
export function settleWaitMs(mtimeMs: number, seenAt: number | undefined, now: number, settleMs: number): number {
  const stillFor = mtimeMs <= now ? now - mtimeMs : seenAt !== undefined ? now - seenAt : 0;
  return Math.min(settleMs, Math.max(0, settleMs - stillFor));
}

/** Default of `stillPresent`: a regular file (not a link, FIFO or folder) is at the path. */
export async function regularFileAt(file: string): Promise<boolean> {
  try {
    return (await fs.lstat(file)).isFile();
  } catch {
    return false;
  }
}
