// `files-sync adopt [--dry-run]`: takes over workspace files that are this folder's copies by every
// sign files-sync can see (its name for the path, the same size, the local file present) but that
// the ledger does not know, on the user's word: after a lost or different state directory.
import { loadApiKey, loadConfig } from '../config.js';
import { ExitCode } from '../errors.js';
import { walk } from '../local/walk.js';
import type { FileMetadata } from '../remote/types.js';
import { adoptable, findLookalikes } from '../sync/lookalikes.js';
import { buildFilter } from '../local/filter.js';
import { checkRoot } from '../local/root.js';
import { nameFor } from '../sync/names.js';
import { plural } from '../sync/report.js';
import { clientFor, lockStateDir, loggerFor, openLedger, write, type Command } from './shared.js';

/** `files-sync adopt`. */
export const adopt: Command = async (context) => {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  // The ledger's one writer: a daemon or a sync on this state directory makes this exit 2.
  const lock = lockStateDir(config, 'adopt');
  const ledger = openLedger(config);
  const client = clientFor(config, apiKey, logger);
  try {
    checkRoot(config, ledger);
    const known = new Map(ledger.files().map((row) => [row.path, row]));
    const owned = new Set([...known.values()].map((row) => row.fileId));
    for (const d of ledger.pendingDeletes()) owned.add(d.fileId);
    const { filter } = await buildFilter(config);
    const remote: FileMetadata[] = [];
    const [local] = await Promise.all([
      walk(config.root, {
        filter,
        followSymlinks: config.followSymlinks,
        maxFileBytes: config.maxFileBytes,
        known: (p) => known.get(p),
        logger,
      }),
      (async () => {
        for await (const file of client.list()) remote.push(file);
      })(),
    ]);
    const lookalikes = findLookalikes(
      local.files,
      (p) => known.has(p),
      (id) => owned.has(id),
      remote,
      nameFor(config),
    );
    const { take, ambiguous } = adoptable(lookalikes);
    const byPath = new Map(local.files.map((f) => [f.path, f]));
    const verb = context.dryRun ? 'would adopt' : 'adopted';
    for (const { path, file } of take) {
      write(`${verb}  ${file.id}  ${path}`);
      const localFile = byPath.get(path)!;
      if (context.dryRun || localFile.sha256 === null) continue;
      const { sha256, size, mtimeMs, ino, mimeType } = localFile;
      ledger.finishUpload(null, { path, sha256, size, mtimeMs, ino, mimeType, remoteName: file.filename }, file, 0, Date.now());
    }
    for (const path of ambiguous)
      write(
        `ambiguous  ${path}: more than one remote file could be its copy; nothing adopted (delete the extra ones by id, then adopt again)`,
      );
    write(
      `${context.dryRun ? 'dry run: ' : ''}${verb} ${plural(take.length, 'file')}` +
        (ambiguous.length > 0 ? `, ${ambiguous.length} ambiguous` : '') +
        (context.dryRun && take.length > 0 ? '; run files-sync adopt to take them over' : ''),
    );
    return ambiguous.length > 0 ? ExitCode.fileFailures : ExitCode.ok;
  } finally {
    await client.close();
    ledger.close();
    lock.release();
  }
};
