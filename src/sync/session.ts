// What a sync session reads from the configuration, in one place: the planner's options and the
// executor's dependencies, for the full reconciliation and for the daemon's path jobs alike.
import { realpathSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Ledger } from '../ledger/ledger.js';
import { deferHashFor, type ScanOptions } from '../local/entry.js';
import type { PathFilter } from '../local/types.js';
import { statOne } from '../local/walk.js';
import type { Logger } from '../log.js';
import type { RemoteFiles } from '../remote/types.js';
import { nameFor } from './names.js';
import { ORPHAN_SKEW_MS } from './orphans.js';
import type { ExecuteDeps, PlanOptions } from './types.js';

/** What of a plan's options is not in the configuration: the moment, and this run's trust and permissions. */
export interface PlanMoment {
  /** The time of the plan (ms since the epoch). */
  now: number;
  allowMassDelete?: boolean;
  holdLookalikes?: boolean;
  rootDistrust?: string | null;
  serverOffsetMs?: number | null;
}

/** The planner's options under `config` (DESIGN.md rules 3 and 4: guards, naming, the orphan window). */
export function planOptionsFor(config: Config, moment: PlanMoment): PlanOptions {
  return {
    deleteMode: config.deletes.mode,
    maxDeleteCount: config.deletes.maxCount,
    maxDeleteShare: config.deletes.maxShare,
    allowMassDelete: moment.allowMassDelete ?? false,
    ...(moment.holdLookalikes !== undefined ? { holdLookalikes: moment.holdLookalikes } : {}),
    maxFileBytes: config.maxFileBytes,
    remoteName: nameFor(config),
    rootDistrust: moment.rootDistrust ?? null,
    now: moment.now,
    orphanSkewMs: ORPHAN_SKEW_MS,
    ...(moment.serverOffsetMs !== undefined ? { serverOffsetMs: moment.serverOffsetMs } : {}),
  };
}

/**
 * The scan of a reconciliation's pass under `config` (sync, dry run, `status`): the ledger's row
 * decides what is hashed again (stream.ts passes it per path), and a large new file that cannot
 * be a move is left for its upload to hash, so it is read once. `extra` adds the filter in force,
 * the signal, the logger and the bytes to keep for uploads.
 */
export function passScanOptions(
  config: Config,
  ledger: Ledger,
  extra: Pick<ScanOptions, 'filter'> & Partial<Pick<ScanOptions, 'signal' | 'logger' | 'keepContent'>>,
): ScanOptions {
  return {
    followSymlinks: config.followSymlinks,
    maxFileBytes: config.maxFileBytes,
    known: () => undefined,
    deferHash: deferHashFor(ledger, config.maxFileBytes),
    ...extra,
  };
}

/** The parts a session works with besides the configuration. */
export interface SessionParts {
  remote: RemoteFiles;
  ledger: Ledger;
  logger: Logger;
  /** The filter in force: a deleted path that came back counts only if the sync would take it. */
  filter: PathFilter;
}

/** The executor's dependencies under `config`; `extra` adds this run's signals, clock and callbacks. */
export function executeDepsFor(config: Config, parts: SessionParts, extra: Partial<ExecuteDeps> = {}): ExecuteDeps {
  const realRoot = realRootOrUndefined(config.root);
  return {
    root: config.root,
    ...(realRoot !== undefined ? { realRoot } : {}),
    remote: parts.remote,
    ledger: parts.ledger,
    logger: parts.logger,
    concurrency: config.concurrency,
    maxFileBytes: config.maxFileBytes,
    settleMs: config.settleSeconds * 1000,
    requestsPerMinute: config.requestsPerMinute,
    stillPresent: presenceCheck(config, parts.filter),
    ...extra,
  };
}

/**
 * The root's real path, resolved once for all the uploads of these dependencies (the config root
 * is already real when it existed at load; this catches a root created or relinked since). A root
 * that cannot be resolved now is left to the upload, which reports the error as it does today.
 */
function realRootOrUndefined(root: string): string | undefined {
  try {
    return realpathSync.native(root);
  } catch {
    return undefined; // not swallowed: the upload's own realpath raises it (upload.ts realRootOf)
  }
}

/**
 * Whether a path is (again) a file the sync takes: the filter applies, so an excluded file, one in
 * a folder holding files-sync's state marker, or one replaced by a link counts as gone. Reads no
 * content (a zero-byte limit leaves files unhashed).
 */
export function presenceCheck(config: Config, filter: PathFilter): (relPath: string) => Promise<boolean> {
  return async (relPath) => {
    const found = await statOne(config.root, relPath, {
      filter,
      followSymlinks: config.followSymlinks,
      maxFileBytes: 0,
      known: () => undefined,
      stateMarkers: true, // as the walk does: a file in a state directory is not the sync's (one lstat per folder, per delete)
    });
    // An entry whose name does not decode is not the path's file (LocalProblem.undecodable).
    return typeof found !== 'string' && !('undecodable' in found && found.undecodable === true);
  };
}
