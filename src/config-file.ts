// Reading the files an operator points files-sync at (the config, the API key file): regular files
// of a bounded size, opened so that a FIFO cannot hang the read, and the config's JSON checked for
// keys given twice, which JSON.parse would resolve silently in favour of the last.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from './errors.js';
import { shellWord } from './escape.js';

/** The largest file files-sync reads for itself (config, key, `.filesyncignore`): far above any real one. */
export const SMALL_FILE_MAX_BYTES = 1 << 20;

/** What a non-regular file is, for the message. */
export function kindOf(stat: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isDirectory(): boolean;
}): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a directory';
  return 'not a file';
}

/** An open regular file of at most SMALL_FILE_MAX_BYTES: its fstat, and its text read by `read()`. */
export interface SmallFile {
  stats: fs.Stats;
  read: () => string;
}

/**
 * Opens `file` (links followed) as `what` (for the messages) and checks it is a regular file of at
 * most 1 MiB, before a byte is read; `use` gets it, and the descriptor is closed after. O_NONBLOCK:
 * a FIFO is refused by its fstat instead of blocking the open.
 */
export function withSmallFile<T>(file: string, what: string, use: (f: SmallFile) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${file}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const stats = fs.fstatSync(fd);
    if (!stats.isFile()) throw new ConfigError(`${what} ${file} is not a regular file (${kindOf(stats)}): name the file itself`);
    if (stats.size > SMALL_FILE_MAX_BYTES)
      throw new ConfigError(`${what} ${file} is ${stats.size} bytes, more than ${SMALL_FILE_MAX_BYTES} for such a file`);
    return use({
      stats,
      read: () => {
        try {
          return fs.readFileSync(fd, 'utf8');
        } catch (err) {
          throw new ConfigError(`cannot read ${what} ${file}: ${errorMessage(err)}`, { cause: err });
        }
      },
    });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The config says where the API key is sent (api.baseUrl) and which folder is read, so it is taken
 * only from a file of files-sync's own user or root that others cannot write, as ssh takes its
 * own. A config planted where the operator runs files-sync (./sync.config.json in a shared folder)
 * would otherwise send the key to its author's server.
 * A symbolic link to it must be of the same users (checkConfigLink).
 */
export function checkConfigOwner(file: string, stats: fs.Stats): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  if ((stats.mode & 0o002) !== 0) {
    throw new ConfigError(
      `config ${file} can be written by any user (mode ${(stats.mode & 0o777).toString(8)}): whoever changes it chooses where the API key is sent; chmod o-w ${shellWord(file)}`,
    );
  }
  if (stats.uid !== uid && stats.uid !== 0) {
    throw new ConfigError(
      `config ${file} is owned by uid ${stats.uid}: files-sync reads its configuration only from a file of its own user (uid ${uid}) or root, since the file says where the API key is sent; if you trust it, ${uid === 0 ? `chown 0 ${shellWord(file)}` : `copy it to a file of your own beside it once you have read it, so that its relative paths keep their meaning (cp ${shellWord(file)} ${shellWord(ownCopy(file))}; then run files-sync with --config ${shellWord(ownCopy(file))})`}`,
    );
  }
  checkConfigLink(file, stats);
}

/** Where the advice puts the user's copy of a config another user owns: beside it, so that the same relative paths name the same places. */
function ownCopy(file: string): string {
  return path.join(path.dirname(file), `own-${path.basename(file)}`);
}

/**
 * A config reached through a symbolic link another user made is refused, as the kernel's
 * protected_symlinks would in a sticky folder: the link chooses which file is read (the operator's
 * own among them), and its folder is where the config's relative paths point. Checked after the
 * open, against `stats` (the descriptor's): a path that is no longer the file read is refused too.
 */
function checkConfigLink(file: string, stats: fs.Stats): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  let link: fs.Stats;
  try {
    link = fs.lstatSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${errorMessage(err)}`, { cause: err });
  }
  if (link.isSymbolicLink()) {
    if (link.uid === uid || link.uid === 0) return;
    throw new ConfigError(
      `config ${file} is a symbolic link of uid ${link.uid}: files-sync follows a link to its config only when its own user (uid ${uid}) or root made it, since the link chooses the file read and the folder its relative paths start from; name your own config with --config (and remove the link, if the folder lets you: rm ${shellWord(file)})`,
    );
  }
  if (link.dev !== stats.dev || link.ino !== stats.ino) {
    throw new ConfigError(`config ${file} was replaced while it was read: run again, and find out who replaces it`);
  }
}

/**
 * The first key given twice in one object of the valid JSON `text`, with its offset; null when
 * none is. Keys starting with `//` are notes (the example config's) and may repeat.
 */
export function duplicateKey(text: string): { key: string; at: number } | null {
  // One set of keys per open object, null per open array; `key`: the next string is a key.
  const open: (Set<string> | null)[] = [];
  let key = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = open.at(-1);
      if (key && keys) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(name) && !name.startsWith('//')) return { key: name, at: i };
        keys.add(name);
        key = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      key = true;
    } else if (c === '[') {
      open.push(null);
      key = false;
    } else if (c === '}' || c === ']') {
      open.pop();
      key = false;
    } else if (c === ',') {
      key = open.at(-1) instanceof Set;
    }
  }
  return null;
}

/** `:LINE:COLUMN` of a JSON.parse error, from the offset its message gives (or its own line and column). */
export function jsonErrorPlace(text: string, message: string): string {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return `:${lc[1]}:${lc[2]}`;
  const at = /position (\d+)/.exec(message);
  if (!at) return '';
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  return `:${line}:${Number(at[1]) - before.lastIndexOf('\n')}`;
}
