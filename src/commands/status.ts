// `files-sync status`: what is tracked, what failed, what is held, and the daemon's live state.
import path from 'node:path';
import { loadConfig } from '../config.js';
import { readLock } from '../daemon/lock.js';
import { ExitCode } from '../errors.js';
import { formatBytes } from '../report.js';
import { ALREADY_REMOTE, type SyncReport } from '../sync/reconcile.js';
import { openLedger, write, type Command, type CommandContext } from './shared.js';

function openReadOnly(context: CommandContext) {
  const config = loadConfig(context.overrides, context.env);
  return { config, ledger: openLedger(config, { readOnly: true }) };
}

/** `files-sync status`: what is tracked, what failed, what is held, and the daemon's live state. */
export const status: Command = async (context) => {
  const { config, ledger } = openReadOnly(context);
  try {
    const counts = ledger.counts();
    const last = ledger.getMetaJson<SyncReport>('last_sync');
    const holder = readLock(path.join(config.stateDir, 'lock'));
    let live: unknown = null;
    if (holder?.holder === 'daemon') {
      const { queryDaemon } = await import('../daemon/control.js');
      live = await queryDaemon(config, 'status').catch((err: unknown) => ({ error: String(err) }));
    }
    const result = {
      root: config.root,
      stateDir: config.stateDir,
      tracked: counts,
      failures: ledger.failures().map((f) => ({ path: f.path, error: f.error, attempts: f.attempts, retryable: f.retryable })),
      pendingDeletes: ledger.pendingDeletes().length,
      unsettledUploads: ledger.inFlight().length,
      held: last?.held ?? null,
      alreadyRemote: last?.alreadyRemote?.length ?? 0,
      lastSync: last ? { at: new Date(last.finishedAt).toISOString(), exitCode: last.exitCode, uploaded: last.uploaded, deleted: last.deleted, failed: last.failed.length } : null,
      foreignFiles: last?.foreign ?? null,
      daemon: holder ? { pid: holder.pid, holder: holder.holder, live } : null,
    };
    if (context.json) {
      write(JSON.stringify(result, null, 2));
      return ExitCode.ok;
    }
    write(`root: ${result.root}`);
    write(`tracked: ${counts.files} files, ${formatBytes(counts.bytes)}`);
    write(result.lastSync ? `last sync: ${result.lastSync.at} (exit ${result.lastSync.exitCode}): uploaded ${result.lastSync.uploaded}, deleted ${result.lastSync.deleted}, failed ${result.lastSync.failed}` : 'last sync: never');
    write(`failures: ${result.failures.length}`);
    for (const f of result.failures) write(`  ${f.path}: ${f.error} (${f.attempts} attempts${f.retryable ? '' : ', waits for the file to change'})`);
    if (result.held) write(`held deletes: ${result.held.count}: ${result.held.reason}`);
    if (result.alreadyRemote > 0) write(`held uploads: ${ALREADY_REMOTE(result.alreadyRemote)}`);
    if (result.pendingDeletes > 0) write(`pending deletes: ${result.pendingDeletes}`);
    if (result.unsettledUploads > 0) write(`uploads to settle at the next sync: ${result.unsettledUploads}`);
    if (result.foreignFiles !== null) write(`foreign files in the workspace: ${result.foreignFiles}`);
    if (!holder) write('daemon: not running');
    else for (const line of describeDaemon(holder.pid, live)) write(line);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
};

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
  };
  if (l.error) return [`daemon: running (pid ${pid}), but its control socket did not answer: ${l.error}`];
  const q = l.queue ?? {};
  const lines = [`daemon: ${l.state ?? 'running'} (pid ${pid})`];
  lines.push(`  queue: ${q.queued ?? 0} queued, ${q.running ?? 0} running, ${q.settling ?? 0} settling, ${q.deletesWaiting ?? 0} deletes waiting; ${l.uploadsInFlight ?? 0} uploads in flight`);
  const r = l.reconcile;
  if (r) lines.push(`  reconciliation: ${r.running ? 'running now' : `last ${r.last ? `${r.last.at} (exit ${r.last.exitCode})` : 'never'}`}, next ${r.nextAt ?? 'not scheduled'}`);
  if (l.watcher) lines.push(`  watcher: ${l.watcher.state ?? 'unknown'}${l.watcher.error ? ` (${l.watcher.error})` : ''}`);
  if (l.api) lines.push(`  API: ${l.api.state ?? 'unknown'}${l.api.since ? ` since ${l.api.since}` : ''}${l.api.error ? ` (${l.api.error})` : ''}`);
  return lines;
}

