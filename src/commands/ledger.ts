// `files-sync ledger check|restore [FILE]`: SQLite's integrity check of the ledger, and putting a
// backup back in its place (only while no other files-sync holds the state directory).
import { loadConfig, type Config } from '../config.js';
import { ledgerPath, lockStateDir, noteCopy, write, type CommandContext } from './shared.js';
import { LockedError } from '../lock.js';
import { escapeText } from '../escape.js';
import { ConfigError, ExitCode } from '../errors.js';
import { pickBackup, restoreLedger } from '../ledger/backup.js';
import { LedgerError, faultMessage } from '../ledger/faults.js';
import { Ledger } from '../ledger/ledger.js';

/** Runs `files-sync ledger VERB`; resolves to the exit code (6 when the ledger is damaged). */
export function runLedgerCommand(context: CommandContext): Promise<number> {
  const [verb, file, ...extra] = context.positionals;
  if (verb !== 'check' && verb !== 'restore') throw new ConfigError('ledger takes check or restore [FILE] (try files-sync --help)');
  if (extra.length > 0 || (verb === 'check' && file !== undefined)) throw new ConfigError(`unexpected argument "${extra[0] ?? file}"`);
  const config = loadConfig(context.overrides, context.env);
  return Promise.resolve(verb === 'check' ? check(config) : restore(config, file));
}

/** Read-only: it may run beside a daemon. */
function check(config: Config): number {
  const file = ledgerPath(config);
  let ledger: Ledger;
  try {
    ledger = Ledger.open(file, { readOnly: true, onCopy: noteCopy });
  } catch (err) {
    if (err instanceof LedgerError && err.kind === 'corrupt') return damaged(file, [err.message]);
    // Not opened for another reason (a read-only or failing disk, a file gone): said as it is, not
    // as damage, whose advice (restore a backup, move the ledger aside) would not help.
    throw err;
  }
  try {
    const problems = ledger.integrityProblems();
    if (problems.length > 0) return damaged(file, problems);
    write(`ok: the ledger ${file} passed SQLite's integrity check (${ledger.fileCount()} files tracked)`);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
}

function damaged(file: string, problems: string[]): number {
  for (const problem of problems.slice(0, 20)) write(`  ${problem}`);
  if (problems.length > 20) write(`  … and ${problems.length - 20} more`);
  process.stderr.write(
    `files-sync: ${escapeText(faultMessage('corrupt', file, `SQLite's integrity check found ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}`))}\n`,
  );
  return ExitCode.ledger;
}

function restore(config: Config, requested: string | undefined): number {
  const file = ledgerPath(config);
  let lock;
  try {
    lock = lockStateDir(config, 'restore'); // the state directory checked as ours first (rule 9)
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    const what = err.holder === 'daemon' ? 'stop it first (systemctl stop files-sync)' : 'wait for it to finish, then run this again';
    throw new ConfigError(`cannot restore the ledger while ${err.message}: ${what}`, {
      cause: err,
    });
  }
  try {
    const result = restoreLedger(file, pickBackup(file, requested));
    write(`restored the ledger ${file} from ${result.from} (${result.files} files tracked)`);
    if (result.keptAs) write(`the ledger it replaced is kept as ${result.keptAs}`);
    write('the next sync (or the daemon when it starts) reconciles the folder and the workspace with it');
    // Rule 1: the API cannot say who uploaded a file, so these are listed for the user, not deleted.
    write(
      `copies uploaded after the backup was taken (${new Date(result.window.takenAt).toISOString()}) are unknown to it: ` +
        "after that sync, files-sync status lists them as unclaimed copies, and files-sync forget-copies ID... removes the ones you confirm are not another application's",
    );
    return ExitCode.ok;
  } finally {
    lock.release();
  }
}
