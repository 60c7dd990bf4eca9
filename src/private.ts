// The state directory and ledger are the program's own (DESIGN.md rule 9): created private
// (0700 / 0600) and refused, with the command to run, when another user could write them, as
// OpenSSH's StrictModes refuses such files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { shellWord } from './escape.js';

/**
 * The file that marks a folder as a state directory of files-sync. A folder below the root that
 * holds one of ours (`isOwnStateMarker`) is never synced, whatever its name: a writer of the root
 * may rename the state directory within it (rule 9).
 */
export const STATE_MARKER = '.files-sync-state';

const MARKER_TEXT = 'This folder is a state directory of files-sync; files-sync never syncs a folder that holds this file.\n';

/** Files SQLite keeps beside the ledger; they take the ledger's mode when created. */
const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'];

function me(): { uid: number; name: string } {
  const uid = process.geteuid?.() ?? os.userInfo().uid;
  let name = String(uid);
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry (a container's arbitrary uid): the number does for chown.
  }
  return { uid, name };
}

/**
 * Whether `marker` (an lstat of a STATE_MARKER) in the folder whose stat is `folder` is one
 * files-sync wrote: a regular file of this user or of root, in a folder of this user or root that
 * group and others cannot write, as every state directory is (`ensurePrivateDir`). A file of this
 * user that another writer of the root renamed or linked into a folder it may write is not one.
 */
export function isOwnStateMarker(marker: fs.Stats, folder: fs.Stats): boolean {
  const ours = (stat: fs.Stats) => stat.uid === me().uid || stat.uid === 0;
  return marker.isFile() && ours(marker) && folder.isDirectory() && ours(folder) && (folder.mode & 0o022) === 0;
}

/** Writes the state directory's marker (0600) unless it has one; never through a link. */
function writeStateMarker(dir: string): void {
  let fd: number;
  try {
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    fd = fs.openSync(path.join(dir, STATE_MARKER), flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // this private folder's own, as it was written
    throw err;
  }
  try {
    fs.writeSync(fd, MARKER_TEXT);
  } catch (err) {
    fs.rmSync(path.join(dir, STATE_MARKER), { force: true }); // written whole at the next open (a full disk)
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** Refuses `stat` of `what` when another user owns it or group/others can write it. */
function checkOwnerAndMode(stat: fs.Stats, what: string, file: string, privateMode: number, readOnly = false): void {
  const self = me();
  // root may own it: root can write anything anyway, and systemd creates state directories as root.
  // root may read the service user's ledger (`sudo files-sync status`): root is not defended against.
  if (stat.uid !== self.uid && stat.uid !== 0 && !(readOnly && self.uid === 0)) {
    // root writing the service user's state would leave files that user cannot open.
    if (self.uid === 0) {
      throw new ConfigError(
        `${what} ${file} belongs to uid ${stat.uid} (the service's user, for one): run files-sync as that user, ` +
          `as in sudo -u '#${stat.uid}' files-sync ..., so that what it writes there stays readable to them`,
      );
    }
    throw new ConfigError(
      `${what} ${file} is owned by another user (uid ${stat.uid}), who could change what files-sync deletes: ` +
        `run "chown ${self.name} ${shellWord(file)}" if it is yours, or choose another stateDir`,
    );
  }
  if ((stat.mode & 0o022) !== 0) {
    throw new ConfigError(
      `${what} ${file} can be written by group or others (mode ${(stat.mode & 0o777).toString(8)}), who could change what files-sync deletes: ` +
        `run "chmod ${privateMode.toString(8)} ${shellWord(file)}"`,
    );
  }
}

/**
 * Creates the state directory 0700 when it is missing (parents too), and refuses one another user
 * owns or group/others can write (ConfigError, exit 2); then marks it (STATE_MARKER) when it is
 * not yet, so that it is never synced under another name either.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkOwnerAndMode(fs.statSync(dir), 'the state directory', dir, 0o700);
  writeStateMarker(dir);
}

/** What to do when this user may not read the state directory `dir`: run as its owner. */
function runAsOwner(dir: string): string {
  const owner = fs.statSync(dir).uid;
  const as = owner === 0 ? 'sudo files-sync ...' : `sudo -u '#${owner}' files-sync ...`;
  return `run files-sync as the user whose state it is (uid ${owner}), as in ${as}, or choose another stateDir`;
}

/**
 * Prepares the ledger file before SQLite opens it: the state directory as `ensurePrivateDir`;
 * the ledger created 0600 when missing (so SQLite's -wal and -shm files, which copy its mode, are
 * 0600 too); an existing one (and its side files) refused like the directory, and made 0600 when
 * it is ours but others can read it (ledgers of earlier versions were 0644). `readOnly` creates
 * and changes nothing. `what` names the file in messages (the lock's database is prepared so too).
 */
export function preparePrivateLedger(file: string, dir: string, readOnly: boolean, what = 'the ledger file'): void {
  if (readOnly) checkOwnerAndMode(fs.statSync(dir), 'the state directory', dir, 0o700, true);
  else ensurePrivateDir(dir);
  for (const name of [file, ...SQLITE_SIDE_FILES.map((suffix) => file + suffix)]) {
    const isLedger = name === file;
    let fd: number;
    try {
      const create = isLedger && !readOnly ? fs.constants.O_CREAT : 0;
      fd = fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | create, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // a read-only open reports a missing ledger itself
      if (code === 'ELOOP') throw new ConfigError(`${what} ${name} is a symbolic link: remove it`, { cause: err });
      const advice = code === 'EACCES' || code === 'EPERM' ? `: ${runAsOwner(dir)}` : '';
      throw new ConfigError(`cannot open ${what} ${name}: ${(err as Error).message}${advice}`, { cause: err });
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw new ConfigError(`${what} ${name} is not a regular file: remove it`);
      checkOwnerAndMode(stat, what, name, 0o600, readOnly);
      if (!readOnly && (stat.mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
    } finally {
      fs.closeSync(fd);
    }
  }
}
