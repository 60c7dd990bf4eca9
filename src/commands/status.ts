// `files-sync status`: the folder's state, the last runs, what is tracked, failed or held, and
// whether a daemon runs. Exit 3 when the root is missing.
import path from 'node:path';
import { loadConfig } from '../config.js';
import { readLock } from '../lock.js';
import { LISTED_MAX } from '../arrays.js';
import { ExitCode } from '../errors.js';
import { countsLine, formatBytes, movesWaitingLine, plural } from '../sync/report.js';
import { ALREADY_REMOTE, type SyncReport } from '../sync/reconcile.js';
import { heldAsLookalikes, UNSEEN_KEPT } from '../sync/outcome.js';
import { unclaimedStatus } from './forget-copies.js';
import { folderState } from './folder-state.js';
import { lastRun, type RunRecord } from './runs.js';
import { readLedgerOrEmpty, write, writeJson, type Command } from './shared.js';

/** Failures the human text lists (`--json` lists LISTED_MAX). */
const FAILURES_SHOWN = 50;

/** `files-sync status`. */
export const status: Command = async (context) => {
  const config = loadConfig(context.overrides, context.env);
  const ledger = readLedgerOrEmpty(config);
  try {
    const last = ledger.getMetaJson<SyncReport>('last_sync');
    const run = lastRun(ledger, 'sync');
    const adopt = lastRun(ledger, 'adopt');
    const judged = afterAdopt(last, run, adopt);
    const holder = readLock(path.join(config.stateDir, 'lock'));
    const daemonPid = holder?.holder === 'daemon' ? holder.pid : null;
    let live: unknown = null;
    if (daemonPid !== null) {
      const { queryDaemon } = await import('./daemon-client.js');
      live = await queryDaemon(config, 'status').catch((err: unknown) => ({ error: String(err) }));
    }
    const running = holder
      ? holder.holder === 'daemon'
        ? `daemon, pid ${holder.pid}`
        : `a one-shot ${holder.holder}, pid ${holder.pid}`
      : null;
    const folder = await folderState(config, ledger, judged.run, judged.last, running, daemonPid !== null ? idleNote(live) : null);
    const counts = ledger.counts();
    // The first LISTED_MAX (whoever writes into the folder decides how many), and the count.
    const failures = ledger.failures(LISTED_MAX);
    const failureCount = ledger.failureCount();
    const unclaimed = unclaimedStatus(ledger);
    const result = {
      root: config.root,
      stateDir: config.stateDir,
      api: { contract: config.api.contract, version: config.api.version },
      state: folder.state,
      stateLine: folder.line,
      toUpload: folder.toUpload,
      toDelete: folder.toDelete,
      movesWaiting: folder.movesWaiting,
      deletesHeld: folder.deletesHeld,
      tracked: counts,
      failures: failures.map((f) => ({ path: f.path, error: f.error, attempts: f.attempts, retryable: f.retryable })),
      failureCount,
      pendingDeletes: ledger.pendingDeleteCount(),
      unsettledUploads: ledger.inFlight().length,
      held: last?.held ?? null,
      alreadyRemote: judged.last ? heldAsLookalikes(judged.last) : 0,
      unseenKept: last?.unseenKept ?? 0,
      lastReconciliation: last
        ? { at: new Date(last.finishedAt).toISOString(), exitCode: last.exitCode, counts: last.counts ?? null }
        : null,
      lastRuns: { sync: run, adopt },
      foreignFiles: last?.foreign ?? null,
      unclaimedCopies: unclaimed.json,
      daemon: daemonPid !== null ? { running: true, pid: daemonPid, live } : { running: false },
      oneShot: holder && holder.holder !== 'daemon' ? { holder: holder.holder, pid: holder.pid } : null,
    };
    if (context.json) writeJson(result);
    else {
      write(`root: ${result.root}`);
      write(`state: ${folder.line}`);
      write(`API contract: ${result.api.contract} (anthropic-version ${result.api.version})`);
      write(`tracked: ${plural(counts.files, 'file')}, ${formatBytes(counts.bytes)}`);
      write(
        last
          ? `last reconciliation: ${result.lastReconciliation!.at}, exit ${last.exitCode}${last.counts ? `: ${countsLine(last.counts)}` : ''}`
          : 'last reconciliation: never',
      );
      write(run ? `last sync: ${run.at}, exit ${run.exitCode}${run.outcome ? `, ${run.outcome}` : ''}` : 'last sync: never');
      if (adopt) write(`last adopt: ${adopt.at}, exit ${adopt.exitCode}${adopt.outcome ? `, ${adopt.outcome}` : ''}`);
      for (const line of failureLines(result.failures, failureCount)) write(line);
      for (const line of heldLines(result)) write(line);
      if (result.foreignFiles !== null) write(`other applications' files in the workspace: ${result.foreignFiles}`);
      for (const line of unclaimed.lines) write(line);
      if (result.oneShot) write(`a one-shot ${result.oneShot.holder} is running (pid ${result.oneShot.pid})`);
      if (daemonPid === null) write('daemon: not running');
      else for (const line of describeDaemon(daemonPid, live)) write(line);
    }
    return folder.state === 'root missing' ? ExitCode.guard : ExitCode.ok;
  } finally {
    ledger.close();
  }
};

/**
 * The last reconciliation and sync as status judges them: when an adopt ran after a reconciliation
 * that held new paths only as look-alikes (exit 3 for nothing else), and took every one over
 * (exit 0; an ambiguous path leaves it 1 and held), that hold is settled: the walk tells what a
 * sync would still do.
 */
function afterAdopt(
  last: SyncReport | undefined,
  run: RunRecord | null,
  adopt: RunRecord | null,
): { last: SyncReport | undefined; run: RunRecord | null } {
  const settled =
    last !== undefined &&
    adopt !== null &&
    adopt.exitCode === ExitCode.ok &&
    Date.parse(adopt.at) > last.finishedAt &&
    heldAsLookalikes(last) > 0 &&
    last.held === null &&
    last.deletesBlocked === null;
  if (!settled) return { last, run };
  const failed = (last.counts?.failed ?? last.failed.length) + (last.counts?.deletesFailed ?? 0);
  const rest = failed > 0 ? ExitCode.fileFailures : ExitCode.ok;
  return {
    last: { ...last, alreadyRemote: [], alreadyRemoteCount: 0, exitCode: rest },
    run: run !== null && run.exitCode === ExitCode.guard ? { ...run, exitCode: rest } : run,
  };
}

/** The failures' count, then the first FAILURES_SHOWN of them, one line each. */
function failureLines(failures: readonly { path: string; error: string; attempts: number; retryable: boolean }[], count: number): string[] {
  const lines = [`failures: ${count}`];
  for (const f of failures.slice(0, FAILURES_SHOWN))
    lines.push(`  ${f.path}: ${f.error} (${plural(f.attempts, 'attempt')}${f.retryable ? '' : ', waits for the file to change'})`);
  if (count > FAILURES_SHOWN) lines.push(`  … and ${count - FAILURES_SHOWN} more`);
  return lines;
}

/** What is held or waits, one line each: deletes and uploads held, copies kept, deletes and outcomes due. */
function heldLines(r: {
  held: SyncReport['held'];
  movesWaiting: number;
  alreadyRemote: number;
  unseenKept: number;
  pendingDeletes: number;
  unsettledUploads: number;
}): string[] {
  const lines: string[] = [];
  if (r.held) lines.push(`held deletes: ${r.held.count}: ${r.held.reason}`);
  if (r.movesWaiting > 0) lines.push(movesWaitingLine(r.movesWaiting));
  if (r.alreadyRemote > 0) lines.push(`held uploads: ${ALREADY_REMOTE(r.alreadyRemote)}`);
  if (r.unseenKept > 0) lines.push(UNSEEN_KEPT(r.unseenKept));
  if (r.pendingDeletes > 0) lines.push(`old copies and removed files to delete: ${r.pendingDeletes}`);
  if (r.unsettledUploads > 0) lines.push(`uploads whose outcome the next sync settles: ${r.unsettledUploads}`);
  return lines;
}

/**
 * Whether the daemon's live state (`Daemon.status`) says it has nothing to do: running, its initial
 * reconciliation done and none running or asked for, no job queued, running, settling or parked, no delete
 * waiting, no upload in flight. A partial or failed answer is not idle.
 */
function daemonIdle(live: unknown): boolean {
  const l = (live ?? {}) as {
    state?: unknown;
    queue?: Record<string, unknown>;
    uploadsInFlight?: unknown;
    reconcile?: { running?: unknown; followUp?: unknown };
    initialReconciliation?: { state?: unknown };
  };
  const q = l.queue ?? {};
  const none = (v: unknown) => v === 0;
  return (
    l.state === 'running' &&
    l.initialReconciliation?.state === 'done' &&
    l.reconcile?.running === false &&
    l.reconcile.followUp !== true &&
    none(l.uploadsInFlight) &&
    ['queued', 'running', 'settling', 'parked', 'deletesWaiting'].every((k) => none(q[k]))
  );
}

/**
 * How an idle daemon keeps the folder (its watcher watching, or changes waiting for its next
 * reconciliation); null when it is not idle.
 */
function idleNote(live: unknown): string | null {
  if (!daemonIdle(live)) return null;
  const watcher = (live as { watcher?: { state?: unknown } }).watcher?.state;
  return watcher === 'watching' ? ', watching' : `; its watcher: ${String(watcher)}, so changes wait for its next reconciliation`;
}

/** The daemon's live state (see `Daemon.status`) as lines; tolerant of a partial answer. */
function describeDaemon(pid: number, live: unknown): string[] {
  const l = (live ?? {}) as {
    error?: string;
    state?: string;
    queue?: { queued?: number; running?: number; settling?: number; parked?: number; deletesWaiting?: number };
    uploadsInFlight?: number;
    reconcile?: { running?: boolean; last?: { at: string; exitCode: number } | null; nextAt?: string | null };
    watcher?: { state?: string; error?: string | null };
    api?: { state?: string; since?: string; error?: string | null };
    storageFull?: string | null;
    ledgerProblem?: string | null;
    initialReconciliation?: { state?: string; error?: string | null; retryAt?: string | null };
  };
  if (l.error) return [`daemon: running (pid ${pid}), but its control socket did not answer: ${l.error}`];
  const q = l.queue ?? {};
  const lines = [`daemon: ${l.state ?? 'running'} (pid ${pid})`];
  const init = l.initialReconciliation;
  if (init?.state === 'failed')
    lines.push(`  initial reconciliation failed (${init.error ?? 'unknown error'}); retrying at ${init.retryAt ?? 'the next trigger'}`);
  lines.push(
    `  queue: ${q.queued ?? 0} queued, ${q.running ?? 0} running, ${q.settling ?? 0} settling, ${q.deletesWaiting ?? 0} deletes waiting; ${l.uploadsInFlight ?? 0} uploads in flight`,
  );
  const r = l.reconcile;
  if (r)
    lines.push(
      `  reconciliation: ${r.running ? 'running now' : `last ${r.last ? `${r.last.at} (exit ${r.last.exitCode})` : 'never'}`}, next ${r.nextAt ?? 'not scheduled'}`,
    );
  if (l.watcher) lines.push(`  watcher: ${l.watcher.state ?? 'unknown'}${l.watcher.error ? ` (${l.watcher.error})` : ''}`);
  if (l.api)
    lines.push(`  API: ${l.api.state ?? 'unknown'}${l.api.since ? ` since ${l.api.since}` : ''}${l.api.error ? ` (${l.api.error})` : ''}`);
  if (l.storageFull) lines.push(`  storage full, uploads wait: ${l.storageFull}`);
  if (l.ledgerProblem) lines.push(`  ledger: ${l.ledgerProblem}`);
  return lines;
}
