// `files-sync resolve PATH`: the file_id of one synced path.
import path from 'node:path';
import { loadConfig } from '../config.js';
import { ExitCode } from '../errors.js';
import { openLedger, write, type Command } from './shared.js';

/** `files-sync resolve PATH`: prints the file_id of a synced path; exit 1 when it is not synced. */
export const resolve: Command = async (context) => {
  const config = loadConfig(context.overrides, context.env);
  const ledger = openLedger(config, { readOnly: true });
  try {
    const arg = context.positionals[0]!;
    // Accept a path relative to the root, or an absolute / cwd-relative one inside the root.
    const abs = path.resolve(arg);
    const inRoot = path.relative(config.root, abs);
    const rel = !inRoot.startsWith('..') && !path.isAbsolute(inRoot) && path.isAbsolute(arg) ? inRoot : arg;
    const row = ledger.fileByPath(rel.split(path.sep).join('/')) ?? ledger.fileByPath(inRoot.split(path.sep).join('/'));
    if (!row) {
      process.stderr.write(`files-sync: ${arg} is not synced\n`);
      return ExitCode.fileFailures;
    }
    write(row.fileId);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
};

