// What every command shares: the context the command line hands it, the logger, client and ledger
// helpers, and writing to stdout (a closed pipe ends the output quietly).
import fs from 'node:fs';
import path from 'node:path';
import type { Config, ConfigOverrides } from '../config.js';
import { ExitCode, SyncError, errorMessage } from '../errors.js';
import { escapeJson, escapeText } from '../escape.js';
import { acquireLock, type Lock } from '../daemon/lock.js';
import { Ledger } from '../ledger/ledger.js';
import { createLogger, detectLogFormat, type LogFormat, type LogLevel, type Logger } from '../log.js';
import { ensurePrivateDir } from '../local/private.js';
import { FilesClient } from '../remote/client.js';

/** What a command receives from the command line. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  help: boolean;
  overrides: ConfigOverrides;
  dryRun: boolean;
  allowMassDelete: boolean;
  /** `sync --allow-duplicates`: upload even where the workspace holds look-alikes a fresh ledger does not know. */
  allowDuplicates?: boolean;
  json: boolean;
  /** `init`: replace a config file that exists. */
  force?: boolean;
  logFormat?: LogFormat;
  logLevel?: LogLevel;
  positionals: string[];
}

/** A command: runs with its context and resolves to the exit code. */
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
export function write(line: string): void {
  process.stdout.write(`${escapeText(line)}\n`);
}

/** Prints a value as JSON that stays valid and equal, with no raw C1 or DEL (rule 9). */
export function writeJson(value: unknown): void {
  process.stdout.write(`${escapeJson(JSON.stringify(value, null, 2))}\n`);
}

/** Opens the ledger of a state directory; one that cannot be opened names the path and what to do. */
export function openLedger(config: Config, options: { readOnly?: boolean } = {}): Ledger {
  const file = ledgerPath(config);
  try {
    return Ledger.open(file, options);
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError(
      `cannot open the ledger ${file} (${errorMessage(err)}): check that ${config.stateDir} exists and is yours and writable, or choose another with --state-dir`,
      ExitCode.usage,
      { cause: err },
    );
  }
}

/** Kernel file systems: no ledger can live there, and a recursive mkdir in /proc never returns. */
const VIRTUAL = ['/proc', '/sys', '/dev'];

/** Creates the state directory (0700), or says which path cannot be made and what to do. */
export function ensureStateDir(config: Config): void {
  const dir = path.resolve(config.stateDir);
  if (VIRTUAL.some((v) => dir === v || dir.startsWith(`${v}/`))) {
    throw new SyncError(`the state directory ${dir} is on a kernel file system: choose a folder on disk with --state-dir or "stateDir"`, ExitCode.usage);
  }
  try {
    fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    fs.accessSync(config.stateDir, fs.constants.W_OK);
  } catch (err) {
    throw new SyncError(
      `cannot use the state directory ${config.stateDir} (${errorMessage(err)}): make it writable for this user, or choose another with --state-dir or "stateDir" in the config`,
      ExitCode.usage,
      { cause: err },
    );
  }
  // Ours alone (rule 9): refused with the chmod/chown to run when another user could write it.
  ensurePrivateDir(config.stateDir);
}

/** Takes the writer lock of the state directory (creating it), naming the path when it cannot. */
export function lockStateDir(config: Config, holder: string): Lock {
  ensureStateDir(config);
  try {
    return acquireLock(config.stateDir, holder);
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError(
      `cannot create the lock in the state directory ${config.stateDir} (${errorMessage(err)}): make it writable for this user, or choose another with --state-dir`,
      ExitCode.usage,
      { cause: err },
    );
  }
}
