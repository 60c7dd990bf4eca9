// What the reconciliation's one pass (stream.ts) takes and leaves.
import type { Failure, Ledger } from '../ledger/ledger.js';
import type { ScanOptions } from '../local/entry.js';
import type { SortedWalk } from '../local/sorted-walk.js';
import type { Logger } from '../log.js';
import type { Execution } from './execute.js';
import type { Plan, PlanOptions } from './types.js';

/** What one pass needs. */
export interface PassInput {
  ledger: Ledger;
  walk: SortedWalk;
  scan: ScanOptions;
  options: PlanOptions;
  /** Paths whose lost upload the remote side adopted: not uploaded again. */
  adoptedPaths: ReadonlySet<string>;
  failures: ReadonlyMap<string, Failure>;
  /** Every failure row's path (`failures` may leave some out): those a complete walk does not find are dropped. */
  failurePaths?: ReadonlySet<string> | undefined;
  /** Whether a new path's upload is held as a likely duplicate (look-alikes); absent: never. */
  holds?: ((path: string, size: number) => boolean) | undefined;
  /** Files not ours the listing had, by remote name and size (ids, space-separated): a new upload's intent records them. */
  lookalikes?: ((remoteName: string, size: number) => string | undefined) | undefined;
  /** Rows in the ledger before the run (none: an initial sync, where no move can be). */
  tracked: number;
  /**
   * Where uploads go as they are decided; null for a dry run (they are kept in `plan.uploads`) and for `status`. Only a
   * pass with an execution writes the ledger (stat-only changes, failures): with null it writes nothing (a read-only ledger).
   */
  exec: Execution | null;
  /**
   * With `exec` null: uploads and stat-only changes are counted (`PassResult.uploads`,
   * `plan.unchanged`), not kept in the plan, so a never-synced million-file tree holds no million
   * actions just to be counted (`status`).
   */
  countOnly?: boolean;
  /**
   * The remote side was not read (`status`: no request): the ledger is trusted for what the
   * workspace holds, every row's id counts as present (`listed` null), as in the daemon's path jobs.
   */
  ledgerTrusted?: boolean;
  /** Receives what the pass decides besides uploads: skips, the unchanged count, held paths. */
  plan: Plan;
  /** Remote names whose paths a restore window needs (restore-window.ts); the paths found are kept. */
  restoreNames?: ReadonlySet<string> | undefined;
  logger: Logger;
  /** Bytes already read to hash before the pass (the files of open uploads): counted in its progress. */
  bytesHashedBefore?: number;
  onProgress?: ((walked: number, bytesHashed: number) => void) | undefined;
}

/** What the pass leaves for the guard and the report. */
export interface PassResult {
  /** Ledger rows the walk did not find: collected in the ledger (`collectedSummary`), not kept here. */
  gone: number;
  /** Uploads decided (queued, or planned by a dry run), after the look-alike holds. */
  uploads: number;
  /** New paths whose content a gone row may pair with (a move's new side): uploads, and paths waiting on a failure. */
  added: number;
  /** Of those, the uploads (which a dry run counts as stored). */
  addedToUpload: number;
  /** Files and problems the walk found (an empty root blocks deletes). */
  found: number;
  filesHashed: number;
  bytesHashed: number;
  /** With `restoreNames`: the local and ledger paths carrying one of them. */
  restorePaths: string[];
}
