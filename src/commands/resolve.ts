// `files-sync resolve PATH`: the file_id of one synced path, or why it has none.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { ExitCode } from '../errors.js';
import { escapeText } from '../escape.js';
import type { Ledger } from '../ledger/ledger.js';
import { buildFilter } from '../local/filter.js';
import { openLedger, write, type Command } from './shared.js';

/** Whether `p` lies strictly inside `root`. */
function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * The root-relative POSIX path PATH names, or null when it lies outside the root. An absolute
 * PATH is taken as it is; a relative one is relative to the current folder when that is inside
 * the root, else to the root (`./a.md` and `a.md` alike).
 */
export function relativeToRoot(root: string, arg: string, cwd: string): string | null {
  const fromCwd = path.resolve(cwd, arg);
  const asGiven = path.isAbsolute(arg) || inside(root, fromCwd) ? fromCwd : path.resolve(root, arg);
  let real = asGiven;
  try {
    // The folder's own links (…/link/a.md) name the file the walk sees under its real folder.
    real = path.join(fs.realpathSync(path.dirname(asGiven)), path.basename(asGiven));
  } catch {
    // A path that does not exist is judged as written.
  }
  if (!inside(root, real)) return null;
  return path.relative(root, real).split(path.sep).join('/');
}

/** Why a path inside the root has no file_id. */
async function whyNot(config: Config, ledger: Ledger, rel: string): Promise<string> {
  const failure = ledger.failure(rel);
  if (failure) return `its upload failed: ${failure.error}`;
  const abs = path.join(config.root, rel);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(abs);
  } catch {
    return `there is no such file in ${config.root}`;
  }
  if (stat.isSymbolicLink() && !config.followSymlinks) return 'it is a symbolic link, which is not followed (followSymlinks)';
  if (stat.isDirectory()) return 'it is a folder: resolve takes a file';
  if (!stat.isFile() && !stat.isSymbolicLink()) return 'it is not a regular file (a FIFO, socket or device): skipped';
  const parts = rel.split('/');
  const { filter } = await buildFilter(config);
  for (let i = 1; i <= parts.length; i++) {
    if (!filter(parts.slice(0, i).join('/'), i < parts.length))
      return 'it is excluded (include/exclude, .filesyncignore or the built-in editor and temp files)';
  }
  if (stat.size > config.maxFileBytes) return `it is larger than maxFileBytes (${config.maxFileBytes})`;
  return 'it has not been synced yet: run files-sync sync';
}

/** `files-sync resolve PATH`: prints the file_id of a synced path; exit 1 when it is not synced. */
export const resolve: Command = async (context) => {
  const config = loadConfig(context.overrides, context.env);
  const ledger = openLedger(config, { readOnly: true });
  try {
    const arg = context.positionals[0]!;
    const rel = relativeToRoot(config.root, arg, process.cwd());
    if (rel === null) {
      process.stderr.write(`files-sync: ${escapeText(`${arg} is outside the root ${config.root}`)}\n`);
      return ExitCode.fileFailures;
    }
    const row = ledger.fileByPath(rel);
    if (!row) {
      process.stderr.write(`files-sync: ${escapeText(`${arg} is not synced: ${await whyNot(config, ledger, rel)}`)}\n`);
      return ExitCode.fileFailures;
    }
    write(row.fileId);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
};
