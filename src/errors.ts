// The few error classes of files-sync and the exit codes a script or systemd can act on.

/** Exit codes (DESIGN.md, "Surface"); the systemd unit refuses to restart on 2, 4 and 6. */
export const ExitCode = {
  ok: 0,
  fileFailures: 1,
  usage: 2,
  guard: 3,
  auth: 4,
  unavailable: 5,
  /** The ledger is damaged, read-only, gone or unreadable (or, for a one-shot run, its disk full). */
  ledger: 6,
  /** Stopped by SIGINT / SIGTERM before the work was done (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code a command ends with when `err` stops it: its own, or 2 for an error not raised on purpose. */
export function exitCodeFor(err: unknown): ExitCode {
  return err instanceof SyncError ? err.exitCode : ExitCode.usage;
}

/** Base class: every error files-sync raises on purpose says what the user can do about it. */
export class SyncError extends Error {
  override name = 'SyncError';
  /** The exit code a command ends with when this error stops it. */
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/**
 * A fault of the ledger (exit 6): it says more than any other way a run ended, a stop or a
 * vanished root included, since the next run needs the ledger looked at first.
 */
export function isLedgerFault(err: unknown): err is SyncError {
  return err instanceof SyncError && err.exitCode === ExitCode.ledger;
}

/** Bad configuration or command line: fatal, exit 2, never retried. */
export class ConfigError extends SyncError {
  override name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** The sync root is missing or a delete guard tripped: exit 3. */
export class GuardError extends SyncError {
  override name = 'GuardError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.guard, options);
  }
}

/** Message of any thrown value, for logs and summaries. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
