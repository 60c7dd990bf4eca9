// One upload under DESIGN.md rules 2, 3, 5 and 8: settle, hash what is sent, record the intent
// before the request, read only inside the root, check nothing moved under it, and switch the
// ledger in one transaction; and the adoption of an upload whose answer was lost.
import { lstat, lstatSync, type Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import type { Ledger } from '../ledger/ledger.js';
import { FileConditionError, changing, tooLarge } from '../file-errors.js';
import { SYNC_READ_MAX_BYTES, hashFile } from '../local/hash.js';
import type { Logger } from '../log.js';
import { ResponseFormatError } from '../remote/errors.js';
import type { UploadResult } from '../remote/types.js';
import type { DeferredWrites } from './deferred.js';
import { writeIntent, type Intent, type IntentBatch } from './intents.js';
import type { Adoption, ExecuteDeps, UploadAction } from './types.js';
import { copyState } from './remote-view.js';
import { settleWaitMs } from './waits.js';
import { pathUnder } from '../safe-open.js';

/** Attempts of a failed upload whose outcome is unknown (possible orphans). */
function unknownOutcomesOf(err: unknown): number {
  const n = (err as { unknownOutcomeAttempts?: unknown }).unknownOutcomeAttempts;
  if (typeof n === 'number') return n;
  // An aborted upload may have sent part or all of its body: assume the worst.
  return (err as { name?: unknown }).name === 'AbortError' ? 1 : 0;
}

/** Records an adopted orphan as the path's copy; returns the id it replaced, if any. */
export function adopt(adoption: Adoption, ledger: Ledger, now: number, logger: Logger): string | null {
  const { inFlight, file, local } = adoption;
  const { replaced } = ledger.finishUpload(
    inFlight.id,
    {
      path: local.path,
      size: local.size,
      mtimeMs: local.mtimeMs,
      ino: local.ino,
      sha256: local.sha256,
      mimeType: inFlight.mimeType,
      remoteName: inFlight.remoteName,
    },
    file,
    0,
    now,
  );
  logger.info('adopted an upload whose answer was lost', { path: local.path, fileId: file.id });
  return replaced;
}

export type UploadOutcome =
  | { kind: 'done'; bytes: number; sha256: string; replaced: string | null; unknownOutcomes: number }
  | { kind: 'torn'; tornId: string; unknownOutcomes: number; gone?: FileConditionError }
  | { kind: 'unchanged' };

/** What one upload needs besides its action: the executor's dependencies, its signal and clock. */
export interface UploadContext {
  /** The file changed since the walk: hash it again (and send what this read hashed). */
  rehash: boolean;
  deps: ExecuteDeps;
  signal: AbortSignal;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
  /** Where the record of the finished upload waits for its group commit; absent: committed at once. */
  later?: DeferredWrites;
  /** The execution's intents, written in batches; absent: this upload writes its own. */
  intents?: IntentBatch;
  /** Ids upload answers named whose records the ledger does not have yet (a group commit waits): a second is refused. */
  answered?: Set<string>;
}

/** The root's real path of each ExecuteDeps that did not bring one: resolved once per run, not per upload. */
const realRoots = new WeakMap<ExecuteDeps, Promise<string>>();

/**
 * `deps.realRoot`, else the real path of `deps.root` resolved at the first upload of this `deps`
 * (a glibc realpath walks every component: ~3 failing readlinks and a thread-pool round trip per
 * call). A failure is not kept, so the next upload tries again.
 */
function realRootOf(deps: ExecuteDeps): Promise<string> {
  if (deps.realRoot !== undefined) return Promise.resolve(deps.realRoot);
  let resolving = realRoots.get(deps);
  if (resolving === undefined) {
    resolving = realpath(deps.root);
    realRoots.set(deps, resolving);
    resolving.catch(() => realRoots.delete(deps));
  }
  return resolving;
}

/** One upload with rule 5: settle, hash what is sent, and check nothing moved under it. */
export async function uploadOne(action: UploadAction, ctx: UploadContext): Promise<UploadOutcome> {
  const { rehash, deps, signal, sleep, now, later } = ctx;
  // Retried (`rehash`), the file was just seen changing: a future mtime waits a whole settle time again.
  const wait = settleWaitMs(action.local.mtimeMs, rehash ? undefined : action.queuedAt, now(), deps.settleMs);
  if (wait > 0) await sleep(wait, signal);

  // Every read below is a safe open under the root's real path (rule 8), of the file the walk saw
  // (its real path when it reached it through a followed link).
  const realRoot = await realRootOf(deps);
  const abs = action.local.realPath ?? pathUnder(realRoot, action.path);
  let local = action.local;
  // What the walk read and hashed, if it kept it; not after a change (`rehash`): that is stale.
  let content = action.content ?? deps.contents?.get(action.path);
  deps.contents?.delete(action.path);
  // The client checks, as it opens the file, that it is still the file hashed (`expect`): a file
  // changed or replaced since the walk fails with `changed` and comes back here with `rehash`.
  if (rehash) ({ local, content } = await hashAgain(abs, realRoot, local, ctx));
  if (
    action.reason === 'missing-remote' &&
    action.replaces !== null &&
    (await copyState(deps.remote, action.replaces, signal)) === 'there'
  ) {
    return { kind: 'unchanged' }; // the listing lagged behind; the copy is there
  }
  const { row, inFlightId } = await recordIntent(action, local, ctx);
  if (inFlightId === null) return { kind: 'unchanged' };
  let result;
  try {
    result = await deps.remote.upload(abs, {
      filename: action.remoteName,
      mimeType: local.mimeType,
      expect: { size: local.size, mtimeMs: local.mtimeMs, ino: local.ino, dev: local.dev, root: realRoot, realPath: abs },
      ...(content?.length === local.size ? { content } : {}),
      ...(local.sha256 === null ? { hash: true } : {}),
      signal,
    });
  } catch (err) {
    deps.ledger.abandonUpload(inFlightId, unknownOutcomesOf(err), now());
    throw err;
  }
  const id = claimNewId(result, inFlightId, ctx);
  const after = local.size <= SYNC_READ_MAX_BYTES ? lstatSyncOrNull(abs) : await lstatOrNull(abs);
  // Hashed while sent (a large new file): the client's hash of the whole file the copy was sent.
  const sha256 = local.sha256 ?? result.sha256;
  if (!after || !sameAsSent(after, local) || sha256 === undefined) {
    // Torn: what was sent may mix two versions (or, unhashed, is unknown). Its id is ours to
    // delete; the path goes again.
    deps.ledger.addPendingDeletes([{ fileId: result.file.id, path: action.path, reason: 'torn' }], now());
    ctx.answered?.delete(id);
    deps.ledger.abandonUpload(inFlightId, result.unknownOutcomeAttempts, now());
    const torn = { kind: 'torn' as const, tornId: result.file.id, unknownOutcomes: result.unknownOutcomeAttempts };
    // Gone (moved or deleted): its copy is deleted with the others of the run; the path is not retried.
    return after ? torn : { ...torn, gone: new FileConditionError('vanished', abs, `${abs} disappeared during its upload`) };
  }
  const { size, mtimeMs, ino, mimeType } = local;
  const uploaded = { path: action.path, size, mtimeMs, ino, sha256, mimeType, remoteName: action.remoteName };
  const file = result.file;
  const unknownOutcomes = result.unknownOutcomeAttempts;
  const finishedAt = now();
  if (later) {
    // Recorded with the next group commit: the intent above is what must be durable first. The id
    // it replaces is the row read above (one job per path: nothing else writes it meanwhile).
    later.add(() => {
      deps.ledger.finishUpload(inFlightId, uploaded, file, unknownOutcomes, finishedAt);
      ctx.answered?.delete(id);
    });
    return { kind: 'done', bytes: local.size, sha256, replaced: row && row.fileId !== file.id ? row.fileId : null, unknownOutcomes };
  }
  const { replaced } = deps.ledger.finishUpload(inFlightId, uploaded, file, unknownOutcomes, finishedAt);
  ctx.answered?.delete(id);
  return { kind: 'done', bytes: local.size, sha256, replaced, unknownOutcomes };
}

/**
 * The id of an upload's answer, once it is new: an id the ledger already holds (a path's copy, one
 * due for deletion...) or another answer of this run named is not this upload's, and the upload
 * counts as one whose answer was lost (its own copy, if stored, is the orphan sweep's: rule 3).
 * A new id is held in the run's set until the ledger has it (a pending delete, or the record's
 * group commit).
 */
function claimNewId(result: UploadResult, inFlightId: number, { deps, now, answered }: UploadContext): string {
  const id = result.file.id;
  if (deps.ledger.knowsId(id) || answered?.has(id)) {
    deps.ledger.abandonUpload(inFlightId, result.unknownOutcomeAttempts + 1, now());
    throw new ResponseFormatError('upload answer', 'id', `a new file id (${id} is one files-sync already holds)`, {
      retryable: true,
      unknownOutcomeAttempts: result.unknownOutcomeAttempts + 1,
    });
  }
  answered?.add(id);
  return id;
}

/**
 * The upload's intent, committed and durable (rule 3: before the request): from the execution's
 * batch when it has one (written ahead, or now with the next queued uploads'), else in a
 * transaction of its own. The row read and the intent share a transaction: one lock cycle of the
 * ledger. The fsync runs on the thread pool (`Ledger.transactionSynced`).
 */
async function recordIntent(action: UploadAction, local: UploadAction['local'], { deps, now, intents }: UploadContext): Promise<Intent> {
  if (intents) return intents.take(action, local);
  const request = { action, local, startedAt: now(), clockOffsetMs: deps.remote.clockOffsetMs?.() ?? null };
  const { value, synced } = deps.ledger.transactionSynced(() => writeIntent(deps.ledger, request));
  await synced;
  return value;
}

/**
 * Changed since the walk: hash again, so the ledger records what is really sent. A small file is
 * sent from the bytes of this very read: what was hashed is what is uploaded.
 */
async function hashAgain(
  abs: string,
  realRoot: string,
  local: UploadAction['local'],
  ctx: UploadContext,
): Promise<{ local: UploadAction['local']; content: Buffer | undefined }> {
  const small = local.size <= SYNC_READ_MAX_BYTES;
  // Exactly where the walk found it (rule 8): a folder on its path swapped for a link since (to the
  // state directory, an excluded folder) leads elsewhere under the root, and is refused.
  const hashed = await hashFile(abs, { place: { realRoot, realPath: abs }, signal: ctx.signal, keep: true, small });
  if (!hashed.stableAcrossRead) throw changing(abs, 'is still changing');
  const again = {
    ...local,
    size: hashed.size,
    mtimeMs: hashed.mtimeMs,
    ino: hashed.ino,
    dev: hashed.dev,
    sha256: hashed.sha256,
  };
  if (again.size > ctx.deps.maxFileBytes) throw tooLarge(abs, again.size, ctx.deps.maxFileBytes);
  return { local: again, content: hashed.content };
}

/**
 * lstat through the callback API (a third of the cost of fs/promises'): the path itself, never a
 * link's target, so a file swapped for a link after its upload reads as torn.
 */
function lstatOrNull(file: string): Promise<Stats | null> {
  return new Promise((resolve) => lstat(file, (err, stats) => resolve(err ? null : stats)));
}

/**
 * `lstatOrNull` with a synchronous lstat, for a small file (a page-cache hit of microseconds,
 * cheaper than a thread-pool round trip). Any error is null, as there: the path no longer holds
 * the file that was sent.
 */
function lstatSyncOrNull(file: string): Stats | null {
  try {
    return lstatSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // ENOTDIR, EACCES...: not the file that was sent (the caller reads it as torn or vanished)
  }
}

/** The path still holds the regular file that was sent: same inode (and device), size and mtime. */
function sameAsSent(after: Stats, local: { size: number; mtimeMs: number; ino: number; dev?: number | undefined }): boolean {
  return (
    after.isFile() &&
    after.size === local.size &&
    after.mtimeMs === local.mtimeMs &&
    after.ino === local.ino &&
    (local.dev === undefined || after.dev === local.dev)
  );
}
