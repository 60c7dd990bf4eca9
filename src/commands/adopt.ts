// `files-sync adopt [--dry-run]`: takes over workspace files that are this folder's copies by every
// sign files-sync can see (its name for the path, the same size, the local file present) but that
// the ledger does not know, on the user's word: after a lost or different state directory. The
// scan and the verdict run in temp tables (sync/adopt-scan.ts), only the files taken are read
// (sync/adopt-take.ts): memory does not grow with the tree.
import { loadApiKey, loadConfig } from '../config.js';
import { ExitCode, GuardError, errorMessage, exitCodeFor } from '../errors.js';
import { AdoptTables } from '../ledger/adopt-tables.js';
import { Ledger } from '../ledger/ledger.js';
import { buildFilter } from '../local/filter.js';
import { checkRoot } from '../local/root.js';
import { SortedWalk } from '../local/walk.js';
import type { RemoteFiles } from '../remote/types.js';
import { scanForAdoption } from '../sync/adopt-scan.js';
import { takeOver, type TakeOutcome } from '../sync/adopt-take.js';
import { nameFor } from '../sync/names.js';
import { ProgressView, plural } from '../sync/report.js';
import { checkedLedger } from '../sync/api-target.js';
import { clientFor, lockAndOpen, lockWithoutDaemon, loggerFor, openLedgerFor, write, type Command } from './shared.js';
import { holdHeapFlat } from '../v8-flags.js';
import { recordRun } from './runs.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';

/** Ambiguous paths read from the tables at a time. */
const PAGE = 500;

/** `files-sync adopt`. */
export const adopt: Command = async (context) => {
  // It reads the whole listing, however long: a long pass (v8-flags.ts).
  holdHeapFlat();
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  // The ledger's one writer: a daemon or a sync on this state directory makes this exit 2. A dry
  // run writes nothing (its tables are temporary), so it needs no lock and runs beside them.
  const dryRun = context.dryRun;
  const client = clientFor(config, apiKey, logger);
  const { lock, ledger } = await lockAndOpen(
    client,
    () => (dryRun ? null : lockWithoutDaemon(config, 'adopt')),
    () => checkedLedger(openLedgerFor(config, dryRun), config, !dryRun),
  );
  const view = new ProgressView(process.stderr, Boolean(process.stderr.isTTY));
  try {
    // A folder that is not the one the ledger knows (rule 4) could hold look-alikes of its files,
    // which would claim the copies: nothing is adopted there. A dry run says so, and shows the rest.
    const { distrust } = checkRoot(config, ledger);
    if (distrust !== null && !dryRun) throw new GuardError(`${distrust}: nothing adopted`);
    if (distrust !== null) write(`${distrust}: files-sync adopt would adopt nothing until then`);
    const code = await runAdopt({ config, ledger, remote: client, logger, dryRun, view }).catch((err: unknown) => {
      if (!dryRun) recordRun(ledger, 'adopt', exitCodeFor(err), errorMessage(err));
      throw err;
    });
    // `status` tells the held uploads this run settled, and names it.
    if (!dryRun) recordRun(ledger, 'adopt', code, null);
    // What a dry run shows cannot be taken yet: it says so as the real run would (exit 3).
    return distrust !== null ? ExitCode.guard : code;
  } finally {
    view.finish();
    await client.close();
    ledger.close();
    lock?.release();
  }
};

/** What one adoption needs (the command's parts; a test passes its own and a hook). */
export interface AdoptInput {
  config: Config;
  ledger: Ledger;
  remote: Pick<RemoteFiles, 'list' | 'clockOffsetMs'>;
  logger: Logger;
  dryRun: boolean;
  view?: ProgressView;
  /** Test seam: awaited between the scan and the take-over (the files are hashed after it). */
  afterScan?: () => Promise<void>;
}

/** Scans, decides and takes over, printing a line per path and the summary; resolves to the exit code. */
export async function runAdopt(input: AdoptInput): Promise<number> {
  const { config, ledger, logger, dryRun, view } = input;
  const { filter } = await buildFilter(config);
  const walk = await SortedWalk.open(config.root, { filter, followSymlinks: config.followSymlinks, logger });
  const tables = new AdoptTables(ledger);
  try {
    const scan = await scanForAdoption({
      tables,
      listing: input.remote.list({ readAhead: true }),
      walk,
      remoteName: nameFor(config),
      maxFileBytes: config.maxFileBytes,
      logger,
      onProgress: (walked) => view?.update('scan', { filesDone: walked, filesTotal: 0, bytesDone: 0, bytesTotal: 0 }),
    });
    logger.debug('adopt scan done', { ...scan });
    if (!scan.complete) {
      // Ambiguity touches nothing: an unseen path of the same name and size would make a match ambiguous.
      write(
        'some folders could not be read: nothing adopted (a file in them could claim the same remote file); fix them and run files-sync adopt again',
      );
      return ExitCode.fileFailures;
    }
    await input.afterScan?.();
    const { adopted, notAdopted } = await takeOver({
      tables,
      ledger,
      realRoot: walk.opened.realRoot,
      dryRun,
      now: Date.now,
      // The listing's answers measured it: a copy's created_at is on the API's clock.
      serverOffsetMs: input.remote.clockOffsetMs?.(),
      onOutcome: (outcome) => {
        view?.finish();
        write(outcomeLine(outcome));
      },
      onProgress: (filesDone, bytesDone) =>
        view?.update('sync', { filesDone, filesTotal: scan.take, bytesDone, bytesTotal: scan.takeBytes }),
    });
    view?.finish();
    for (let after = ''; ;) {
      const page = tables.ambiguousAfter(after, PAGE);
      if (page.length === 0) break;
      after = page.at(-1)!;
      for (const path of page)
        write(
          `ambiguous  ${path}: more than one remote file could be its copy; nothing adopted (delete the extra ones by id, then adopt again)`,
        );
    }
    write(summaryLine(dryRun, adopted, scan.ambiguous, notAdopted));
    return scan.ambiguous > 0 || notAdopted > 0 ? ExitCode.fileFailures : ExitCode.ok;
  } finally {
    tables.clear();
  }
}

function outcomeLine(outcome: TakeOutcome): string {
  const { take } = outcome;
  switch (outcome.kind) {
    case 'would-adopt':
      return outcome.unverified
        ? `would adopt  ${take.id}  ${take.path}: changed since that copy was made; the next sync would send it again`
        : `would adopt  ${take.id}  ${take.path}`;
    case 'adopted':
      return outcome.unverified
        ? `adopted  ${take.id}  ${take.path}: changed since that copy was made; the next sync sends it again and deletes the copy`
        : `adopted  ${take.id}  ${take.path}`;
    case 'not-adopted':
      return `not adopted  ${take.id}  ${take.path}: ${outcome.reason}; run files-sync adopt again`;
  }
}

function summaryLine(dryRun: boolean, adopted: number, ambiguous: number, notAdopted: number): string {
  const verb = dryRun ? 'would adopt' : 'adopted';
  return (
    `${dryRun ? 'dry run: ' : ''}${verb} ${plural(adopted, 'file')}` +
    (ambiguous > 0 ? `, ${ambiguous} ambiguous` : '') +
    (notAdopted > 0 ? `, ${notAdopted} not adopted` : '') +
    (dryRun && adopted > 0 ? '; run files-sync adopt to take them over' : '')
  );
}
