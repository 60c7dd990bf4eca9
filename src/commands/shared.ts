// What every command shares: the context the command line hands it (wired in app.ts, which the
// daemon shares too), opening the ledger, and writing to stdout (a closed pipe ends the output quietly).
import type { Config } from '../config.js';
import { ConfigError, ExitCode, SyncError, errorMessage } from '../errors.js';
import { escapeJson, escapeText } from '../escape.js';
import { isAbsent } from '../file-errors.js';
import { Ledger } from '../ledger/ledger.js';
import { ledgerPath, lockStateDir, type CommandContext } from '../app.js';
import { LockedError, type Lock } from '../lock.js';

export { clientFor, ensureStateDir, ledgerPath, lockStateDir, loggerFor, type CommandContext } from '../app.js';

/** A command: runs with its context and resolves to the exit code. */
export type Command = (context: CommandContext) => Promise<number>;

/** Prints one line of human output, escaped: names from the folder must not forge lines (rule 9). */
export function write(line: string): void {
  process.stdout.write(`${escapeText(line)}\n`);
}

/** Prints a value as JSON that stays valid and equal, with no raw C1 or DEL (rule 9). */
export function writeJson(value: unknown): void {
  process.stdout.write(`${escapeJson(JSON.stringify(value, null, 2))}\n`);
}

/**
 * Prints the items of `pages` as one JSON array, exactly as `writeJson` would print the whole
 * array, a page at a time: a million rows never sit in memory (or in one string) together.
 */
export function writeJsonArray<T>(pages: Iterable<readonly T[]>): void {
  let first = true;
  for (const page of pages) {
    if (page.length === 0) continue;
    const items = page.map((item) => `  ${JSON.stringify(item, null, 2).replaceAll('\n', '\n  ')}`);
    process.stdout.write(`${first ? '[\n' : ',\n'}${escapeJson(items.join(',\n'))}`);
    first = false;
  }
  process.stdout.write(first ? '[]\n' : '\n]\n');
}

/**
 * The ledger a run works on: the state directory's, read-only for a dry run (which writes nothing,
 * and may run beside the ledger's writer), or an empty one in memory when a dry run finds none.
 */
export function openLedgerFor(config: Config, dryRun: boolean): Ledger {
  return dryRun ? readLedgerOrEmpty(config) : openLedger(config);
}

/**
 * The state directory's ledger read-only, or an empty one in memory when it has none yet: only when
 * it is known absent. A ledger that cannot be looked at is opened all the same, so that its error
 * (another user's state directory) is said, not taken for "never synced".
 */
export function readLedgerOrEmpty(config: Config): Ledger {
  return isAbsent(ledgerPath(config)) ? Ledger.open(':memory:') : openLedger(config, { readOnly: true });
}

/** Says on stderr that a read-only command reads a copy of the ledger (its disk is read-only). */
export function noteCopy(note: string): void {
  process.stderr.write(`files-sync: ${escapeText(note)}\n`);
}

/** Opens the ledger of a state directory; one that cannot be opened names the path and what to do. */
export function openLedger(config: Config, options: { readOnly?: boolean } = {}): Ledger {
  const file = ledgerPath(config);
  try {
    return Ledger.open(file, { ...options, onCopy: noteCopy });
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError(
      `cannot open the ledger ${file} (${errorMessage(err)}): check that ${config.stateDir} exists and is yours and writable, or choose another with --state-dir`,
      ExitCode.usage,
      { cause: err },
    );
  }
}

/**
 * The writer lock for a command the daemon cannot run for it (`adopt`, `forget-copies`): while
 * another files-sync holds the state directory, refused (exit 2) with what to do, not only who
 * holds it.
 */
export function lockWithoutDaemon(config: Config, command: string): Lock {
  try {
    return lockStateDir(config, command);
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    if (err.holder !== 'daemon')
      throw new ConfigError(`${err.message}: wait for it to finish, then run files-sync ${command} again`, { cause: err });
    throw new ConfigError(
      `the daemon (pid ${err.pid ?? 'unknown'}) owns the ledger: stop it (systemctl stop files-sync), run files-sync ${command}, then start it again`,
      { cause: err },
    );
  }
}

/**
 * Takes the writer lock (`lock`: null for none) and opens the ledger (`open`) for a command whose
 * API client is made already (so that a key it refuses ends the command before the state
 * directory is touched); when either fails, what was taken is let go and the client closed.
 */
export async function lockAndOpen(
  client: { close(): Promise<void> },
  lock: () => Lock | null,
  open: () => Ledger,
): Promise<{ lock: Lock | null; ledger: Ledger }> {
  let taken: Lock | null = null;
  try {
    taken = lock();
    return { lock: taken, ledger: open() };
  } catch (err) {
    taken?.release();
    await client.close();
    throw err;
  }
}
