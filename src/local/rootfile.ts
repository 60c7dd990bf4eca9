// Reading a small file the program needs for itself from the sync root (`.filesyncignore`). The
// folder is hostile input (DESIGN.md rule 9): no links, no FIFOs or devices, a size cap, never a
// read that blocks the event loop, and only a file of the root folder's owner, the service's user
// or root that others cannot write: its rules decide what stops being synced, and so whose copies
// are deleted.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SMALL_FILE_MAX_BYTES, kindOf } from '../config-file.js';
import { GuardError, errorMessage } from '../errors.js';
import { shellWord } from '../escape.js';

/**
 * A file the program reads for itself from the root (`.filesyncignore`) that it cannot take: its
 * rules decide what is synced, so nothing is, until it is fixed. Whoever writes into the folder
 * can cause one (rule 9): a one-shot run ends with it (exit 3); a daemon waits it out.
 */
export class RootFileError extends GuardError {
  override name = 'RootFileError';
}

/** The largest file of its own the program reads from the root. */
export const ROOT_FILE_MAX_BYTES = SMALL_FILE_MAX_BYTES;

/**
 * Refuses, as ssh refuses such a key, a file that others can write or that neither the service's
 * user, root nor the owner of the folder it sits in owns: whoever else writes into a shared folder
 * (a sticky 1777 root, a team folder) could otherwise exclude paths whose files are not theirs and
 * have their copies deleted. The folder's owner is trusted (the service usually reads a folder
 * people own, through a group or an ACL), and so is the group the operator gave write access.
 */
async function checkOwner(file: string, what: string, stat: { uid: number; mode: number }): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  if ((stat.mode & 0o002) !== 0) {
    throw new RootFileError(`${what} can be written by others (mode ${(stat.mode & 0o777).toString(8)}): chmod o-w ${shellWord(file)}`);
  }
  if (stat.uid === uid || stat.uid === 0) return;
  const folderOwner = (await fs.stat(path.dirname(file))).uid;
  if (stat.uid === folderOwner) return;
  throw new RootFileError(
    `${what} is owned by uid ${stat.uid}: files-sync takes its rules only from a file of the folder's owner (uid ${folderOwner}), its own user (uid ${uid}) or root, since they decide whose copies are deleted; if you trust it, chown ${folderOwner} ${shellWord(file)}`,
  );
}

/**
 * Reads `file` (named `what` in messages) as UTF-8, opened once with `O_NOFOLLOW|O_NONBLOCK` and
 * checked on the descriptor: a regular file of at most `maxBytes`, owned as `checkOwner` asks. Resolves to undefined when the
 * file does not exist. Anything else (a link, a FIFO, a device, too large, unreadable) is a
 * RootFileError for this run: the caller must not go on with a filter it could not read.
 */
export async function readRootFile(file: string, what: string, maxBytes = ROOT_FILE_MAX_BYTES): Promise<string | undefined> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one.
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      throw new RootFileError(`${what} is a symbolic link, which files-sync does not follow: replace it with a regular file`, {
        cause: err,
      });
    }
    throw new RootFileError(`cannot read ${what}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new RootFileError(`${what} is not a regular file (${kindOf(stat)}): replace it with a regular file`);
    await checkOwner(file, what, stat);
    const tooLarge = () => new RootFileError(`${what} is larger than 1 MiB (the cap on files files-sync reads for itself): shorten it`);
    if (stat.size > maxBytes) throw tooLarge();
    // One byte more than the cap tells a file that grew past it since the fstat.
    const buffer = Buffer.alloc(maxBytes + 1);
    let total = 0;
    while (total < buffer.length) {
      const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > maxBytes) throw tooLarge();
    return buffer.toString('utf8', 0, total);
  } catch (err) {
    if (err instanceof RootFileError) throw err;
    throw new RootFileError(`cannot read ${what}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await handle.close();
  }
}
