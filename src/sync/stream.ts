// The reconciliation's one pass: the sorted walk merged with the ledger's rows (read a page at a
// time in the same order, each with whether the remote side holds its id), each path decided as
// it comes (decide.ts) and its upload queued at once, the deletes collected for the guard in the
// ledger's temp tables (ledger/collected.ts). Memory holds the directories being walked, a page of
// rows and the queue: not the tree, nor its deletes.
import type { ListedRow } from '../ledger/ledger.js';
import { comparePaths } from '../local/order.js';
import type { WalkItem } from '../local/sorted-walk.js';
import { takeItem } from '../local/take.js';
import type { LocalFile, LocalProblem } from '../local/types.js';
import { forEachConcurrent } from '../local/walk-steps.js';
import { decidePath, type GoneRow, type StatUpdate } from './decide.js';
import type { UploadAction } from './types.js';
import { listSkip } from './plan.js';
import { append, pushListed } from '../arrays.js';
import type { PassInput, PassResult } from './pass-types.js';

export type { PassInput, PassResult } from './pass-types.js';

/** Rows read from the ledger at a time. */
const PAGE = 1000;
/** Stat-only changes committed together. */
const STAT_BATCH = 500;
/** Files taken (lstat, hash) at once while the walk goes on. */
const TAKE_CONCURRENCY = 16;

/** One path of the merge: the walk's item (a file or a problem) and the ledger's row. */
interface Pair {
  path: string;
  item?: Extract<WalkItem, { kind: 'file' | 'problem' }>;
  row?: ListedRow;
}

/** Runs the pass; rejects with the walk's error (RootError, abort) after the takes in flight settled. */
export async function runPass(input: PassInput): Promise<PassResult> {
  const pass = new Pass(input);
  try {
    await forEachConcurrent(pass.pairs(), TAKE_CONCURRENCY, (pair) => pass.take(pair));
  } finally {
    pass.flushStats();
  }
  pass.flushCollected();
  if (input.exec && input.walk.complete) pass.dropStaleFailures();
  return pass.result;
}

class Pass {
  readonly result: PassResult = {
    gone: 0,
    uploads: 0,
    added: 0,
    addedToUpload: 0,
    found: 0,
    filesHashed: 0,
    bytesHashed: 0,
    restorePaths: [],
  };
  readonly #stats: StatUpdate[] = [];
  /** Gone rows and added contents on their way to the ledger's temp tables, a page at a time. */
  readonly #gone: GoneRow[] = [];
  readonly #added: string[] = [];
  /** A dry run's uploads of added contents: what it plans, counted as stored. */
  readonly #stored: string[] = [];
  readonly #takeCtx;
  #page: ListedRow[] = [];
  #next = 0;
  #after: string | null = null;
  #exhausted = false;
  #walked = 0;
  /** Paths with a failure row that the walk found. */
  readonly #failuresFound = new Set<string>();

  constructor(readonly input: PassInput) {
    if (input.countOnly && input.exec) throw new Error('a counting pass cannot upload'); // a programming error
    const walk = input.walk;
    this.result.bytesHashed = input.bytesHashedBefore ?? 0;
    input.ledger.clearCollected();
    this.#takeCtx = { options: input.scan, realRoot: walk.opened.realRoot, onUnseenFolder: () => walk.unseenFolderFound() };
  }

  /**
   * The merge. Before a walk path is paired, the ledger's page reaches past it (or the ledger
   * has no more rows): a row this run's uploads add is then always at a path already passed, so
   * no page read later can return it as a row the walk did not find.
   */
  async *pairs(): AsyncGenerator<Pair> {
    for await (const item of this.input.walk) {
      if (item.kind === 'skipped') {
        this.#walkSkipped(item.path, item.reason);
        continue;
      }
      const path = item.kind === 'file' ? item.path : item.problem.path;
      this.result.found++;
      let row = this.#peek();
      while (row !== undefined && comparePaths(row.path, path) < 0) {
        yield { path: row.path, row };
        this.#next++;
        row = this.#peek();
      }
      if (row?.path === path) {
        this.#next++;
        yield { path, item, row };
      } else yield { path, item };
    }
    // The walk ended (a walk that fails throws instead): the rows left are gone.
    for (let row = this.#peek(); row !== undefined; row = this.#peek()) {
      this.#next++;
      yield { path: row.path, row };
    }
  }

  #peek(): ListedRow | undefined {
    if (this.#next < this.#page.length) return this.#page[this.#next];
    if (this.#exhausted) return undefined;
    this.#page = this.input.ledger.filesAfter(this.#after, PAGE);
    this.#next = 0;
    if (this.#page.length < PAGE) this.#exhausted = true;
    this.#after = this.#page.at(-1)?.path ?? this.#after;
    return this.#page[0];
  }

  /** Takes the pair's file (stat, hash if needed), decides, and sends the decision where it goes. */
  async take(pair: Pair): Promise<void> {
    const { input } = this;
    if (pair.item && input.failurePaths?.has(pair.path)) this.#failuresFound.add(pair.path);
    if (input.adoptedPaths.has(pair.path)) return this.#progress();
    if (input.restoreNames?.has(input.options.remoteName(pair.path))) this.result.restorePaths.push(pair.path);
    let local: LocalFile | LocalProblem | undefined;
    let content: Buffer | undefined;
    if (pair.item?.kind === 'problem') local = pair.item.problem;
    else if (pair.item) {
      const taken = await takeItem(pair.item, pair.row, this.#takeCtx);
      if (taken.kind === 'file') {
        local = taken.file;
        content = taken.content;
        if (taken.hashedBytes !== undefined) {
          this.result.filesHashed++;
          this.result.bytesHashed += taken.hashedBytes;
        }
      } else if (taken.kind === 'problem') local = taken.problem;
      else if (taken.kind === 'skipped') this.#walkSkipped(pair.path, taken.reason);
    }
    this.#progress();
    const listed = pair.row && !input.ledgerTrusted ? pair.row.listed : null;
    const decision = decidePath({ path: pair.path, local, row: pair.row, listed, failure: input.failures.get(pair.path) }, input.options);
    switch (decision.kind) {
      case 'upload':
        return this.#upload(decision.upload, content);
      case 'stat':
        this.#stats.push(decision.update);
        if (this.#stats.length >= STAT_BATCH) this.flushStats();
        return;
      case 'unchanged':
        input.plan.unchanged++;
        return;
      case 'skip': {
        listSkip(input.plan, decision.skip);
        // Waiting on its failure, a moved file's new path is not stored: its old copy waits too.
        const { record, newContent } = decision.skip;
        if (newContent !== undefined) this.#addContent(newContent);
        if (record && input.exec) input.ledger.recordFailure(pair.path, decision.skip.reason, record.retry, record.stat, input.options.now);
        else if (newContent !== undefined && input.exec && !input.failures.get(pair.path)?.sha256)
          input.ledger.noteFailureContent(pair.path, newContent);
        return;
      }
      case 'gone':
        this.result.gone++;
        this.#gone.push(decision.gone);
        if (this.#gone.length >= PAGE) this.flushCollected();
        return;
      case 'none':
        return;
    }
  }

  /** A path the walk skipped on purpose (a link, a FIFO...): listed up to LISTED_MAX, counted past it. */
  #walkSkipped(path: string, reason: string): void {
    if (!pushListed(this.input.plan.walkSkipped, { path, reason })) this.input.plan.skipsNotListed.skipped++;
  }

  async #upload(upload: UploadAction, content: Buffer | undefined): Promise<void> {
    const { input } = this;
    if (upload.reason === 'new' && input.holds?.(upload.path, upload.local.size)) {
      input.plan.alreadyRemoteCount++;
      pushListed(input.plan.alreadyRemote, upload.path);
      return;
    }
    const known = input.lookalikes?.(upload.remoteName, upload.local.size);
    if (known !== undefined) upload.knownLookalikes = known;
    if (upload.replaces === null && upload.local.sha256 !== null && this.#addContent(upload.local.sha256)) {
      upload.addsContent = true;
      this.result.addedToUpload++;
      if (!input.exec) this.#stored.push(upload.local.sha256);
    }
    this.result.uploads++;
    if (!input.exec) {
      if (!input.countOnly) input.plan.uploads.push(upload);
      return;
    }
    await input.exec.room();
    if (content) upload.content = content; // on the action itself: no copy of it per file
    input.exec.addUpload(upload);
  }

  /** Counts a new path's content, which gone rows of it pair with (moves); false with no row before the run (nothing gone). */
  #addContent(sha256: string): boolean {
    if (this.input.tracked === 0) return false;
    this.result.added++;
    this.#added.push(sha256);
    if (this.#added.length >= PAGE) this.flushCollected();
    return true;
  }

  /** Commits the stat-only changes gathered so far; a dry run keeps them in the plan, a counting pass counts them. */
  flushStats(): void {
    if (this.#stats.length === 0) return;
    const { exec, countOnly, ledger, plan } = this.input;
    if (exec) ledger.updateStats(this.#stats);
    else if (!countOnly) append(plan.statUpdates, this.#stats);
    plan.unchanged += exec || countOnly ? this.#stats.length : 0;
    this.#stats.length = 0;
  }

  /** Hands the gone rows and added (a dry run: and planned) contents gathered so far to the ledger (one transaction each). */
  flushCollected(): void {
    const { ledger } = this.input;
    ledger.collectGone(this.#gone);
    ledger.collectAdded(this.#added);
    ledger.collectStored(this.#stored);
    for (const page of [this.#gone, this.#added, this.#stored]) page.length = 0;
  }

  /** The failure rows of paths the whole walk did not find (deleted, excluded, no longer files): they say nothing true. */
  dropStaleFailures(): void {
    const stale = [...(this.input.failurePaths ?? [])].filter((p) => !this.#failuresFound.has(p));
    if (stale.length > 0) this.input.ledger.transaction(() => stale.forEach((p) => this.input.ledger.clearFailure(p)));
  }

  #progress(): void {
    this.#walked++;
    this.input.onProgress?.(this.#walked, this.result.bytesHashed);
  }
}
