// How a reconciliation reads the remote side: the whole listing, or (GA) look-ups of the owned ids,
// chosen by what each costs from the workspace size the last full listing saw, and that size kept
// in the ledger's meta from run to run.
/** Ids a look-up takes (files-api.md); files a list page holds. */
export const LOOKUP_BATCH = 100;
export const LIST_PAGE = 1000;

/** The ledger meta key of what the last full listing saw. */
export const WORKSPACE_META_KEY = 'remote_workspace';

/** What the last complete full listing saw, kept in the ledger's meta. */
export interface WorkspaceSeen {
  /** Files listed (owned and foreign). */
  total: number;
  /** Files of other applications among them (what `status` shows). */
  foreign: number;
  /** When it ran (ms since the epoch, local clock). */
  listedAt: number;
}

/** How the remote side is read this run, and why. */
export interface RemoteChoice {
  mode: 'full' | 'owned';
  reason: string;
}

/** What the choice needs to know. */
export interface ChoiceInput {
  /** The client can look ids up (GA). */
  canLookup: boolean;
  /** Owned ids to check. */
  owned: number;
  seen: WorkspaceSeen | undefined;
  now: number;
  /** A full listing at least this often (`api.fullListHours`). */
  fullListHours: number;
  /** Why a full listing is needed this run whatever it costs (a restore window is open), if it is. */
  forceFull?: string | undefined;
}

/**
 * Picks the cheaper way to read the remote side: `ceil(owned/100)` look-ups against
 * `ceil(total/1000)` list pages, from the workspace size the last full listing saw. A full
 * listing runs anyway without a look-up (beta), without a size seen yet, and once `fullListHours`
 * have passed since the last one (so `status` can count foreign files). Pure.
 */
export function chooseRemoteMode(input: ChoiceInput): RemoteChoice {
  if (!input.canLookup) return { mode: 'full', reason: 'the contract has no ids[] look-up' };
  if (input.forceFull) return { mode: 'full', reason: input.forceFull };
  if (!input.seen) return { mode: 'full', reason: 'no full listing seen yet' };
  if (input.now - input.seen.listedAt >= input.fullListHours * 3_600_000)
    return { mode: 'full', reason: `the last full listing is over ${input.fullListHours} h old` };
  const lookups = Math.ceil(input.owned / LOOKUP_BATCH);
  const pages = Math.max(1, Math.ceil(input.seen.total / LIST_PAGE));
  if (lookups < pages) return { mode: 'owned', reason: `${lookups} look-ups instead of ${pages} list pages` };
  return { mode: 'full', reason: `${pages} list pages cost no more than ${lookups} look-ups` };
}

/**
 * What to keep in the ledger's meta after a run: a full listing's count, or the last one's, moved
 * by the files the run itself added and removed (so the next choice sees this run's uploads);
 * undefined when nothing is known.
 */
export function seenAfterRun(
  listed: WorkspaceSeen | null,
  stored: WorkspaceSeen | undefined,
  uploaded: number,
  deleted: number,
): WorkspaceSeen | undefined {
  const base = listed ?? stored;
  if (!base) return undefined;
  return { ...base, total: Math.max(0, base.total + uploaded - deleted) };
}
