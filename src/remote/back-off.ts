// The wait before a retry, which the caller's signal or the client's close ends early.
import { setTimeout as sleep } from 'node:timers/promises';

/** Sleeps `ms` (a retry's back-off), ended early, with its reason, by the first of `signals` to abort. */
export async function sleepUnless(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  const live = signals.filter((s) => s !== undefined);
  const stop = new AbortController();
  const abort = () => stop.abort(live.find((s) => s.aborted)?.reason);
  if (live.some((s) => s.aborted)) abort();
  for (const s of live) s.addEventListener('abort', abort, { once: true });
  try {
    await sleep(ms, undefined, { signal: stop.signal });
  } finally {
    for (const s of live) s.removeEventListener('abort', abort);
  }
}
