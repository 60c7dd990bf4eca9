// `files-sync init --root DIR`: writes a config file where every later command finds it.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode, errorMessage } from '../errors.js';
import { refuseEmptyPaths } from '../config.js';
import { checkOwnFiles, derivedStateDir, xdgHome } from '../config-paths.js';
import { write, type Command } from './shared.js';
import { shellWord } from '../escape.js';

/** The config file commands read when no --config is given and ./sync.config.json is absent. */
export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  return path.join(xdgHome(env, 'XDG_CONFIG_HOME', '.config'), 'files-sync', 'config.json');
}

/** `files-sync init`. */
export const init: Command = (context) => Promise.resolve(initSync(context));

function initSync(context: Parameters<Command>[0]): number {
  const { root: given, configPath, stateDir } = context.overrides;
  refuseEmptyPaths(context.overrides);
  if (given === undefined) throw new ConfigError('init needs --root DIR: the folder to sync');
  let root: string;
  try {
    root = fs.realpathSync(path.resolve(given));
    if (!fs.statSync(root).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new ConfigError(`cannot use ${path.resolve(given)} as the root (${errorMessage(err)}): name an existing folder`, { cause: err });
  }
  const file = configPath !== undefined ? path.resolve(configPath) : defaultConfigFile(context.env);
  // The checks every later command makes (the whole file system, the state directory as the root,
  // the config inside the root).
  checkOwnFiles(root, stateDir !== undefined ? path.resolve(stateDir) : derivedStateDir(root, root, context.env), undefined, file);
  const flag = writeFlag(file);
  if (fs.existsSync(file) && !context.force) {
    throw new ConfigError(`${file} exists already: edit it, or run init again with --force to replace it`);
  }
  const config = { root, ...(stateDir !== undefined ? { stateDir: path.resolve(stateDir) } : {}) };
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = fs.openSync(file, flag, 0o600);
    try {
      fs.writeFileSync(fd, `${JSON.stringify(config, null, 2)}\n`);
      fs.fchmodSync(fd, 0o600);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new ConfigError(`cannot write ${file} (${errorMessage(err)}): choose another place with --config FILE`, {
      cause: err,
    });
  }
  write(`wrote ${file}: root ${root}`);
  write(`next: files-sync sync${configPath ? ` --config ${configPath}` : ''} (sync.config.example.json lists every other key)`);
  return ExitCode.ok;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW } = fs.constants;

/**
 * How the config is opened for writing. A link or file at `file` another user made is refused: in
 * a shared folder the link would have init write (or make) a file of their choosing, and a file of
 * theirs would stay theirs to rewrite. None there: created, never through a link made meanwhile;
 * a file there: not through a link; only a link of this user's or root's is followed.
 */
function writeFlag(file: string): number {
  let found: fs.Stats;
  try {
    found = fs.lstatSync(file);
  } catch {
    return O_WRONLY | O_CREAT | O_EXCL;
  }
  const uid = process.getuid?.();
  if (uid !== undefined && found.uid !== uid && found.uid !== 0) {
    throw new ConfigError(
      `${file} is ${found.isSymbolicLink() ? 'a symbolic link' : 'a file'} of uid ${found.uid}, another user: init writes no config through or over it (the config says where the API key is sent); rm ${shellWord(file)}, or choose another place with --config FILE`,
    );
  }
  return O_WRONLY | O_CREAT | O_TRUNC | (found.isSymbolicLink() ? 0 : O_NOFOLLOW);
}
