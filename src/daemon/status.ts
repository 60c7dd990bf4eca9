// The daemon's live state, as `files-sync status` shows it (through the control socket).
import type { InitialReconciliation } from './notices.js';
import type { DaemonParts } from './wiring.js';

/** What the live state is read from. */
export interface StatusSource {
  phase: 'starting' | 'running' | 'stopping';
  startedAt: string;
  root: string;
  parts: DaemonParts;
  held: { count: number; reason: string } | null;
  /** The passing troubles the fault policy waits out (faults.ts). */
  faults: { rootProblem: string | null; storageProblem: string | null; ledgerProblem: string | null };
  initial: InitialReconciliation;
}

/** Live state for `files-sync status`. */
export function daemonStatus(s: StatusSource): Record<string, unknown> {
  const { queue, gate, loop, watcher, rootCheck, health } = s.parts;
  return {
    pid: process.pid,
    startedAt: s.startedAt,
    state: s.phase,
    root: s.root,
    queue: queue.stats(),
    requestsInFlight: gate.active,
    uploadsInFlight: gate.uploads,
    reconcile: loop.status(),
    watcher: watcher.status(),
    rootCheck: rootCheck.status(),
    api: {
      state: health.state,
      since: new Date(health.since).toISOString(),
      error: health.lastError,
      failedProbes: health.failedProbes,
    },
    held: s.held,
    rootProblem: s.faults.rootProblem,
    storageFull: s.faults.storageProblem,
    ledgerProblem: s.faults.ledgerProblem,
    initialReconciliation: s.initial.status(),
  };
}
