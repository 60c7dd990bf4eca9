// The wiring the commands and the daemon both need, below both of them: the context the command
// line hands over, config -> Files API client, the logger, the ledger's path and the state
// directory's lock. The daemon imports this module, never the command layer.
import fs from 'node:fs';
import path from 'node:path';
import type { Config, ConfigOverrides } from './config.js';
import { onKernelFileSystem } from './config-paths.js';
import { ConfigError, ExitCode, SyncError, errorMessage } from './errors.js';
import { ledgerFaultKind } from './ledger/faults.js';
import { acquireLock, type Lock } from './lock.js';
import { createLogger, detectLogFormat, type LogFormat, type LogLevel, type Logger } from './log.js';
import { ensurePrivateDir } from './private.js';
import { FilesClient } from './remote/client.js';

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

/** The ledger's file in a state directory. */
export function ledgerPath(config: Config): string {
  return path.join(config.stateDir, 'ledger.db');
}

/** The root logger for a command: the format the environment suggests unless one is asked for. */
export function loggerFor(context: CommandContext, config: Config): Logger {
  return createLogger({
    level: context.logLevel ?? config.logLevel,
    format: context.logFormat ?? detectLogFormat(context.env),
  });
}

/** The Files API client a config describes. */
export function clientFor(config: Config, apiKey: string, logger: Logger): FilesClient {
  if (sendsKeyInClear(config.api.baseUrl)) {
    logger.warn(`api.baseUrl ${config.api.baseUrl} is plain http to another host: the API key crosses the network unencrypted; use https`);
  }
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

/** Whether requests to `baseUrl` carry the key unencrypted off this host: http, not to a loopback address. */
export function sendsKeyInClear(baseUrl: string): boolean {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1');
}

/** Creates the state directory (0700), or says which path cannot be made and what to do. */
export function ensureStateDir(config: Config): void {
  const dir = path.resolve(config.stateDir);
  if (onKernelFileSystem(dir)) {
    throw new SyncError(
      `the state directory ${dir} is on a kernel file system: choose a folder on disk with --state-dir or "stateDir"`,
      ExitCode.usage,
    );
  }
  try {
    fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    fs.accessSync(config.stateDir, fs.constants.W_OK);
    // Ours alone (rule 9): refused with the chmod/chown to run when another user could write it;
    // then marked, which writes a file (a full disk is said as such).
    ensurePrivateDir(config.stateDir);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (diskFull(err)) {
      const what = fs.existsSync(config.stateDir) ? 'write in' : 'create';
      throw new SyncError(
        `cannot ${what} the state directory ${config.stateDir}: its disk is full (${errorMessage(err)}); free space there, then run files-sync again`,
        ExitCode.ledger,
        { cause: err },
      );
    }
    if ((err as NodeJS.ErrnoException).code === 'EROFS') {
      throw new SyncError(
        `cannot write the state directory ${config.stateDir}: its disk is mounted read-only (a disk error can do that: see dmesg); ` +
          'remount it read-write, then run files-sync again (status, ls and resolve still read a copy of the ledger)',
        ExitCode.ledger,
        { cause: err },
      );
    }
    throw new SyncError(
      `cannot use the state directory ${config.stateDir} (${errorMessage(err)}): make it writable for this user, or choose another with --state-dir or "stateDir" in the config`,
      ExitCode.usage,
      { cause: err },
    );
  }
}

/** A write that failed for want of space: the errno, or SQLite's code for it (faults.ts); or what it caused. */
export function diskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || (typeof code === 'string' && ledgerFaultKind(code) === 'full')) return true;
  return err instanceof SyncError && err.cause !== undefined && diskFull(err.cause);
}

/** Takes the writer lock of the state directory (creating it), naming the path when it cannot. */
export function lockStateDir(config: Config, holder: string): Lock {
  ensureStateDir(config);
  try {
    return acquireLock(config.stateDir, holder);
  } catch (err) {
    if (err instanceof SyncError) throw err;
    if (diskFull(err)) {
      throw new SyncError(
        `cannot create the lock in the state directory ${config.stateDir}: its disk is full (${errorMessage(err)}); free space there, then run files-sync again`,
        ExitCode.ledger,
        { cause: err },
      );
    }
    throw new SyncError(
      `cannot create the lock in the state directory ${config.stateDir} (${errorMessage(err)}): make it writable for this user, or choose another with --state-dir`,
      ExitCode.usage,
      { cause: err },
    );
  }
}
