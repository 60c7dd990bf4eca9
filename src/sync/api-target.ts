// The workspace a ledger's copies live in (DESIGN.md rule 1): its ids mean nothing in another. A
// ledger records the API it syncs with (`api.baseUrl`, `api.workspaceId`); once it owns copies, a
// run against another is refused. (A workspace chosen by the API key alone cannot be told apart.) It would take every copy for missing, upload the whole folder there, and
// leave the first workspace's copies behind for good, counted there as other applications' files.
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';

/** The ledger meta key of the API its copies live in. */
export const API_TARGET_META_KEY = 'api_target';

function loopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || /^127\./.test(h) || h === '::1';
}

/**
 * The API a config names, as a ledger records it: scheme, host, port, path and workspace. A
 * loopback host's port is left out: an emulator's changes from one start to the next.
 */
export function apiTargetOf(config: Pick<Config, 'api'>): string {
  const url = new URL(config.api.baseUrl);
  const port = url.port === '' || loopback(url.hostname) ? '' : `:${url.port}`;
  const workspace = config.api.workspaceId === undefined ? '' : ` (workspace ${config.api.workspaceId})`;
  return `${url.protocol}//${url.hostname}${port}${url.pathname.replace(/\/+$/, '')}${workspace}`;
}

/**
 * Refuses (exit 2) a run against another API than the one the ledger's copies live in; records
 * the API in a ledger that has none yet (`record`: a writer). A ledger from before this check
 * records the API of its next run.
 */
export function checkApiTarget(ledger: Ledger, config: Pick<Config, 'api' | 'stateDir'>, record: boolean): void {
  const now = apiTargetOf(config);
  const recorded = ledger.getMeta(API_TARGET_META_KEY);
  if (recorded === now) return;
  // A ledger that owns nothing yet (a first run that failed, at a mistyped address) takes the new one.
  const ownsNothing = ledger.fileCount() === 0 && ledger.pendingDeleteCount() === 0 && ledger.inFlight().length === 0;
  if (recorded === undefined || ownsNothing) {
    if (record) ledger.setMeta(API_TARGET_META_KEY, now);
    return;
  }
  throw new ConfigError(
    `the ledger in ${config.stateDir} holds the copies of ${recorded}, but this run would sync with ${now}: ` +
      `that would upload the whole folder again there and leave the copies in the first behind. ` +
      `Set api.baseUrl and api.workspaceId as they were (ANTHROPIC_BASE_URL, when set, wins over api.baseUrl); for another workspace, give it a state directory of its own ` +
      `(--state-dir or "stateDir"); for the same workspace at a new address, move ${config.stateDir} aside and run files-sync adopt, which takes this folder's copies over`,
  );
}

/** `ledger`, once `checkApiTarget` passed; closed when it did not. */
export function checkedLedger(ledger: Ledger, config: Pick<Config, 'api' | 'stateDir'>, record: boolean): Ledger {
  try {
    checkApiTarget(ledger, config, record);
    return ledger;
  } catch (err) {
    ledger.close();
    throw err;
  }
}
