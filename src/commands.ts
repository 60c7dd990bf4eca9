// The commands behind the command line: sync, daemon, status, ls and resolve.
import fs from 'node:fs';
import path from 'node:path';
import { loadApiKey, loadConfig, type Config, type ConfigOverrides } from './config.js';
import { acquireLock, readLock } from './daemon/lock.js';
import { ExitCode, SyncError } from './errors.js';
import { escapeJson, escapeText } from './escape.js';
import { Ledger } from './ledger/ledger.js';
import { createLogger, detectLogFormat, type LogFormat, type LogLevel, type Logger } from './log.js';
import { ensurePrivateDir } from './local/private.js';
import { FilesClient } from './remote/client.js';
import { ProgressView, formatBytes, summaryLines } from './report.js';
import { reconcile, type SyncReport } from './sync/reconcile.js';
import { forgetCopies, unclaimedStatus } from './unclaimed.js';

/** What a command receives from the command line. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  help: boolean;
  overrides: ConfigOverrides;
  dryRun: boolean;
  allowMassDelete: boolean;
  json: boolean;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  positionals: string[];
}

export type Command = (context: CommandContext) => Promise<number>;

/** The ledger's file in a state directory. */
export function ledgerPath(config: Config): string {
  return path.join(config.stateDir, 'ledger.db');
}

/** The root logger for a command: the format the environment suggests unless one is asked for. */
export function loggerFor(context: CommandContext, config: Config): Logger {
  return createLogger({ level: context.logLevel ?? config.logLevel, format: context.logFormat ?? detectLogFormat(context.env) });
}

/** The Files API client a config describes. */
export function clientFor(config: Config, apiKey: string, logger: Logger): FilesClient {
  return new FilesClient({
    baseUrl: config.api.baseUrl,
    apiKey,
    contract: config.api.contract,
    apiVersion: config.api.version,
    ...(config.api.workspaceId !== undefined ? { workspaceId: config.api.workspaceId } : {}),
    requestsPerMinute: config.requestsPerMinute,
    connections: Math.max(4, config.concurrency * 2),
    logger,
  });
}

/** Prints one line of human output, escaped: names from the folder must not forge lines (rule 9). */
function write(line: string): void {
  process.stdout.write(`${escapeText(line)}\n`);
}

/** Prints a value as JSON that stays valid and equal, with no raw C1 or DEL (rule 9). */
function writeJson(value: unknown): void {
  process.stdout.write(`${escapeJson(JSON.stringify(value, null, 2))}\n`);
}

/** `files-sync sync`: one reconciliation, or a request to the running daemon to do one. */
const sync: Command = async (context) => {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const holder = readLock(path.join(config.stateDir, 'lock'));
  if (holder?.holder === 'daemon' && !context.dryRun) {
    const { syncThroughDaemon } = await import('./daemon/control.js');
    return syncThroughDaemon(config, context, logger);
  }
  const apiKey = loadApiKey(config, context.env);
  // A dry run writes nothing, so it needs no lock and may run beside a daemon or another sync.
  if (!context.dryRun) ensurePrivateDir(config.stateDir); // before the lock file goes into it (rule 9)
  const lock = context.dryRun ? null : acquireLock(config.stateDir, 'sync');
  const ledger = context.dryRun
    ? Ledger.open(fs.existsSync(ledgerPath(config)) ? ledgerPath(config) : ':memory:', { readOnly: fs.existsSync(ledgerPath(config)) })
    : Ledger.open(ledgerPath(config));
  const client = clientFor(config, apiKey, logger);
  const controller = new AbortController();
  const stop = () => controller.abort(new SyncError('interrupted', ExitCode.fileFailures));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const tty = Boolean(process.stderr.isTTY) && !context.json;
  const view = new ProgressView(process.stderr, tty);
  try {
    const report = await reconcile({
      config,
      ledger,
      remote: client,
      logger: logger.child({ module: 'sync' }),
      allowMassDelete: context.allowMassDelete,
      dryRun: context.dryRun,
      signal: controller.signal,
      onProgress: (phase, p) => view.update(phase, p),
    });
    view.finish();
    printReport(report, context.json);
    if (controller.signal.aborted) return ExitCode.fileFailures;
    return report.exitCode;
  } finally {
    view.finish();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await client.close();
    ledger.close();
    lock?.release();
  }
};

/** Prints a sync report: JSON for scripts, or the summary lines. */
export function printReport(report: SyncReport, json: boolean): void {
  if (json) writeJson(report);
  else for (const line of summaryLines(report)) write(line);
}

function openReadOnly(context: CommandContext): { config: Config; ledger: Ledger } {
  const config = loadConfig(context.overrides, context.env);
  return { config, ledger: Ledger.open(ledgerPath(config), { readOnly: true }) };
}

/** `files-sync status`: what is tracked, what failed, what is held, and the daemon's live state. */
const status: Command = async (context) => {
  const { config, ledger } = openReadOnly(context);
  try {
    const counts = ledger.counts();
    const last = ledger.getMetaJson<SyncReport>('last_sync');
    const holder = readLock(path.join(config.stateDir, 'lock'));
    let live: unknown = null;
    if (holder?.holder === 'daemon') {
      const { queryDaemon } = await import('./daemon/control.js');
      live = await queryDaemon(config, 'status').catch((err: unknown) => ({ error: String(err) }));
    }
    const result = {
      root: config.root,
      stateDir: config.stateDir,
      api: { contract: config.api.contract, version: config.api.version },
      tracked: counts,
      failures: ledger.failures().map((f) => ({ path: f.path, error: f.error, attempts: f.attempts, retryable: f.retryable })),
      pendingDeletes: ledger.pendingDeletes().length,
      unsettledUploads: ledger.inFlight().length,
      held: last?.held ?? null,
      lastSync: last ? { at: new Date(last.finishedAt).toISOString(), exitCode: last.exitCode, uploaded: last.uploaded, deleted: last.deleted, failed: last.failed.length } : null,
      foreignFiles: last?.foreign ?? null,
      unclaimedCopies: unclaimedStatus(ledger).json,
      daemon: holder ? { pid: holder.pid, holder: holder.holder, live } : null,
    };
    if (context.json) {
      writeJson(result);
      return ExitCode.ok;
    }
    write(`root: ${result.root}`);
    write(`API contract: ${result.api.contract} (anthropic-version ${result.api.version})`);
    write(`tracked: ${counts.files} files, ${formatBytes(counts.bytes)}`);
    write(result.lastSync ? `last sync: ${result.lastSync.at} (exit ${result.lastSync.exitCode}): uploaded ${result.lastSync.uploaded}, deleted ${result.lastSync.deleted}, failed ${result.lastSync.failed}` : 'last sync: never');
    write(`failures: ${result.failures.length}`);
    for (const f of result.failures) write(`  ${f.path}: ${f.error} (${f.attempts} attempts${f.retryable ? '' : ', waits for the file to change'})`);
    if (result.held) write(`held deletes: ${result.held.count}: ${result.held.reason}`);
    if (result.pendingDeletes > 0) write(`pending deletes: ${result.pendingDeletes}`);
    if (result.unsettledUploads > 0) write(`uploads to settle at the next sync: ${result.unsettledUploads}`);
    if (result.foreignFiles !== null) write(`foreign files in the workspace: ${result.foreignFiles}`);
    for (const line of unclaimedStatus(ledger).lines) write(line);
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
    initialReconciliation?: { state?: string; error?: string | null; retryAt?: string | null };
  };
  if (l.error) return [`daemon: running (pid ${pid}), but its control socket did not answer: ${l.error}`];
  const q = l.queue ?? {};
  const lines = [`daemon: ${l.state ?? 'running'} (pid ${pid})`];
  const init = l.initialReconciliation;
  if (init?.state === 'failed') lines.push(`  initial reconciliation failed (${init.error ?? 'unknown error'}); retrying at ${init.retryAt ?? 'the next trigger'}`);
  lines.push(`  queue: ${q.queued ?? 0} queued, ${q.running ?? 0} running, ${q.settling ?? 0} settling, ${q.deletesWaiting ?? 0} deletes waiting; ${l.uploadsInFlight ?? 0} uploads in flight`);
  const r = l.reconcile;
  if (r) lines.push(`  reconciliation: ${r.running ? 'running now' : `last ${r.last ? `${r.last.at} (exit ${r.last.exitCode})` : 'never'}`}, next ${r.nextAt ?? 'not scheduled'}`);
  if (l.watcher) lines.push(`  watcher: ${l.watcher.state ?? 'unknown'}${l.watcher.error ? ` (${l.watcher.error})` : ''}`);
  if (l.api) lines.push(`  API: ${l.api.state ?? 'unknown'}${l.api.since ? ` since ${l.api.since}` : ''}${l.api.error ? ` (${l.api.error})` : ''}`);
  return lines;
}

/** `files-sync ls`: the path → file_id map applications use. */
const ls: Command = async (context) => {
  const { ledger } = openReadOnly(context);
  try {
    const rows = ledger.files().map((r) => ({ path: r.path, file_id: r.fileId, size: r.size, mime_type: r.mimeType, uploaded_at: r.uploadedAt }));
    if (context.json) writeJson(rows);
    else for (const r of rows) write(`${r.file_id}  ${String(r.size).padStart(10)}  ${r.mime_type.padEnd(24)}  ${r.uploaded_at}  ${r.path}`);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
};

/** `files-sync resolve PATH`: prints the file_id of a synced path; exit 1 when it is not synced. */
const resolve: Command = async (context) => {
  const { config, ledger } = openReadOnly(context);
  try {
    const arg = context.positionals[0]!;
    // Accept a path relative to the root, or an absolute / cwd-relative one inside the root.
    const abs = path.resolve(arg);
    const inRoot = path.relative(config.root, abs);
    const rel = !inRoot.startsWith('..') && !path.isAbsolute(inRoot) && path.isAbsolute(arg) ? inRoot : arg;
    const row = ledger.fileByPath(rel.split(path.sep).join('/')) ?? ledger.fileByPath(inRoot.split(path.sep).join('/'));
    if (!row) {
      process.stderr.write(`files-sync: ${escapeText(arg)} is not synced\n`);
      return ExitCode.fileFailures;
    }
    write(row.fileId);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
};

/** `files-sync daemon`: the resident service. */
const daemon: Command = async (context) => {
  const { runDaemon } = await import('./daemon/daemon.js');
  return runDaemon(context);
};

export const commands: Record<string, Command> = {
  sync,
  status,
  ls,
  resolve,
  daemon,
  'forget-copies': (context) => forgetCopies(context, { ledgerPath, loggerFor, clientFor }),
};
