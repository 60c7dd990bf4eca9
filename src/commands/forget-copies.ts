// Unclaimed copies (DESIGN.md rule 3) for the user: how `status` shows them, and `files-sync
// forget-copies ID...`, which deletes them only on the user's word.
import { lockAndOpen, lockWithoutDaemon, write, type CommandContext } from './shared.js';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import fs from 'node:fs';
import { ConfigError, ExitCode } from '../errors.js';
import { Ledger, type UnclaimedCopy } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import type { FileMetadata, RemoteFiles } from '../remote/types.js';
import { checkedLedger } from '../sync/api-target.js';

/** What `forget-copies` takes from the command layer (passed in: no import cycle). */
export interface ForgetDeps {
  ledgerPath(config: Config): string;
  loggerFor(context: CommandContext, config: Config): Logger;
  clientFor(config: Config, apiKey: string, logger: Logger): RemoteFiles & { close(): Promise<void> };
}

/** An unclaimed copy as `status --json` lists it. */
export interface UnclaimedStatus {
  id: string;
  path: string;
  remoteName: string;
  size: number;
  createdAt: string;
  reason: string;
}

/** The unclaimed copies for `status`: the JSON rows and the human lines. */
export function unclaimedStatus(ledger: Ledger): { json: UnclaimedStatus[]; lines: string[] } {
  const json = ledger.unclaimedCopies().map((c) => ({
    id: c.fileId,
    path: c.path,
    remoteName: c.remoteName,
    size: c.size,
    createdAt: c.createdAt,
    reason: c.reason,
  }));
  if (json.length === 0) return { json, lines: [] };
  const lines = [`unclaimed copies: ${json.length} (maybe ours, maybe another application's; delete with files-sync forget-copies ID...)`];
  for (const c of json) lines.push(`  ${c.id}  ${JSON.stringify(c.path)}  ${c.size} bytes, created ${c.createdAt}: ${c.reason}`);
  return { json, lines };
}

/**
 * Why `id` may not be deleted as an unclaimed copy, or null when it may: the ledger recorded it as
 * one (an ambiguous match of an upload intent, or a copy found in a restore window) and does not
 * own it. Whether the remote file still matches is checked next (`remoteRefusal`).
 */
function refusal(ledger: Ledger, id: string): string | null {
  const copy = ledger.unclaimedCopy(id);
  if (!copy) return `${id} is not an unclaimed copy (files-sync status lists them)`;
  if (ledger.fileById(id) || ledger.pendingDeletes().some((p) => p.fileId === id))
    return `${id} is tracked by the ledger, not an unclaimed copy`;
  return null;
}

/** Whether the remote file is still the one recorded: the same name, size and created_at. */
function matchesIntent(file: FileMetadata, copy: UnclaimedCopy): boolean {
  return file.filename === copy.remoteName && file.size_bytes === copy.size && file.created_at === copy.createdAt;
}

/** The remote file of a copy: its metadata, or null when the workspace no longer has it (404). */
async function remoteOf(remote: RemoteFiles, copy: UnclaimedCopy): Promise<FileMetadata | null> {
  try {
    return await remote.get(copy.fileId);
  } catch (err) {
    if ((err as { status?: unknown }).status === 404) return null;
    throw err;
  }
}

/** Why the copy's remote file may not be deleted, or null when it is the one recorded (or gone). */
function remoteRefusal(copy: UnclaimedCopy, file: FileMetadata | null): string | null {
  if (file === null || matchesIntent(file, copy)) return null;
  return `${copy.fileId} no longer matches the copy recorded (${copy.remoteName}, ${copy.size} bytes, created ${copy.createdAt})`;
}

async function forgetOne(remote: RemoteFiles, ledger: Ledger, copy: UnclaimedCopy, file: FileMetadata | null): Promise<string> {
  if (file === null) {
    ledger.forgetUnclaimed(copy.fileId);
    return `${copy.fileId}: already gone`;
  }
  const result = await remote.delete(copy.fileId);
  ledger.forgetUnclaimed(copy.fileId);
  return `${copy.fileId}: ${result.alreadyDeleted ? 'already gone' : 'deleted'}`;
}

/**
 * `files-sync forget-copies ID...`: deletes unclaimed copies, only the ids given, and only ids the
 * ledger recorded as unclaimed copies whose remote file still matches their intent. Every id is
 * checked, in the ledger and then against its remote file, before any is deleted: one refused id
 * refuses the whole command (exit 2).
 */
export async function forgetCopies(context: CommandContext, deps: ForgetDeps): Promise<number> {
  const ids = [...new Set(context.positionals)];
  if (ids.length === 0) throw new ConfigError('forget-copies takes the ids of unclaimed copies (files-sync status lists them)');
  const config = loadConfig(context.overrides, context.env);
  const logger = deps.loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  const file = deps.ledgerPath(config);
  // Nothing to forget without a ledger: none is made for a mistyped state directory.
  if (!fs.existsSync(file)) throw new ConfigError(`no ledger at ${file}: nothing was deleted (files-sync status lists the copies)`);
  const client = deps.clientFor(config, apiKey, logger);
  const { lock, ledger } = await lockAndOpen(
    client,
    () => lockWithoutDaemon(config, 'forget-copies'),
    () => checkedLedger(Ledger.open(file), config, false),
  );
  try {
    const refused = ids.map((id) => refusal(ledger, id)).filter((r): r is string => r !== null);
    if (refused.length > 0) throw new ConfigError(`nothing was deleted: ${refused.join('; ')}`);
    // Every remote file is read before any is deleted: one that no longer matches refuses them all.
    const checked: { copy: UnclaimedCopy; file: FileMetadata | null }[] = [];
    for (const id of ids) {
      const copy = ledger.unclaimedCopy(id)!;
      checked.push({ copy, file: await remoteOf(client, copy) });
    }
    const stale = checked.map(({ copy, file }) => remoteRefusal(copy, file)).filter((r): r is string => r !== null);
    if (stale.length > 0) throw new ConfigError(`nothing was deleted: ${stale.join('; ')}`);
    // Escaped: the line names a file id and a filename the API gave (rule 9).
    for (const { copy, file } of checked) write(await forgetOne(client, ledger, copy, file));
    return ExitCode.ok;
  } finally {
    await client.close();
    ledger.close();
    lock?.release();
  }
}
