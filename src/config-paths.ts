// Where the service's own files live (the state directory by default outside the root) and the
// rule that none of them is ever synced (DESIGN.md rule 9): paths resolved to their real places.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { isAbsent } from './file-errors.js';

/**
 * The default state directory: `$STATE_DIRECTORY` under systemd, else one folder per root under
 * `$XDG_STATE_HOME/files-sync`, so one-shot runs on different folders never share a ledger.
 */
export function defaultStateDir(root: string, env: NodeJS.ProcessEnv): string {
  const fromSystemd = env.STATE_DIRECTORY?.split(':')[0];
  if (fromSystemd) return fromSystemd;
  const base = xdgHome(env, 'XDG_STATE_HOME', path.join('.local', 'state'));
  const tag = createHash('sha256').update(root).digest('hex').slice(0, 10);
  return path.join(base, 'files-sync', `${path.basename(root) || 'root'}-${tag}`);
}

/**
 * An XDG base directory: the variable when it is an absolute path (the spec has relative values
 * ignored, as they would move with the current folder), else `fallback` under the home directory.
 */
export function xdgHome(env: NodeJS.ProcessEnv, variable: 'XDG_STATE_HOME' | 'XDG_CONFIG_HOME', fallback: string): string {
  const value = env[variable];
  return value && path.isAbsolute(value) ? value : path.join(env.HOME || os.homedir(), fallback);
}

/**
 * The default state directory of the real root; one derived from the path as typed (what versions
 * before the real path used) is kept when it exists and the real one does not, so no ledger is lost.
 */
export function derivedStateDir(typed: string, real: string, env: NodeJS.ProcessEnv): string {
  const wanted = defaultStateDir(real, env);
  if (typed === real || !isAbsent(wanted)) return wanted;
  const earlier = defaultStateDir(typed, env);
  // One that cannot be looked at is kept: its open says why, where a fresh ledger would lose it.
  return isAbsent(earlier) ? wanted : earlier;
}

/** The root's real path when it exists (a missing root is reported by the sync, as it is). */
export function realRoot(root: string): string {
  try {
    return fs.realpathSync(root);
  } catch {
    return root;
  }
}

/** The real path of `file`, which may not exist yet: its deepest existing ancestor's, then the rest. */
export function realPathOf(file: string): string {
  const rest: string[] = [];
  for (let at = file; ; at = path.dirname(at)) {
    try {
      return path.join(fs.realpathSync(at), ...rest);
    } catch {
      if (path.dirname(at) === at) return file;
      rest.unshift(path.basename(at));
    }
  }
}

/** Kernel file systems: no folder of files to sync, no place for a state directory. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys', '/dev'];

/** True when the absolute path `p` is or lies under /proc, /sys or /dev. */
export function onKernelFileSystem(p: string): boolean {
  return KERNEL_FILE_SYSTEMS.some((v) => within(p, v));
}

/** True when `inner` is `outer` or lies under it (both absolute, resolved). */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The service's own files never sync (DESIGN.md rule 9): a state directory under the root is
 * excluded by its real path (buildFilter), the root itself is refused (nothing of it could be
 * synced but the ledger), and so are an API key file and a config file under the root: they would
 * be uploaded, and whoever writes into the folder could read the one or rewrite the other.
 */
export function checkOwnFiles(root: string, stateDir: string, keyFile: string | undefined, configFile?: string): void {
  // `root` is a real path. The whole file system, or a kernel's, is no folder to mirror: its walk
  // would reach /proc and every other service's files. /dev/shm is a tmpfs of ordinary files.
  if (root === '/' || (onKernelFileSystem(root) && !within(root, '/dev/shm'))) {
    throw new ConfigError(`root ${root} is ${root === '/' ? 'the whole file system' : 'on a kernel file system'}: name the folder to sync`);
  }
  if (realPathOf(stateDir) === root) {
    throw new ConfigError(
      `stateDir ${stateDir} is the sync root itself: its ledger would be synced into the workspace. Leave stateDir out (the default lies outside the root) or name another folder`,
    );
  }
  if (configFile !== undefined && within(realPathOf(configFile), root)) {
    throw new ConfigError(
      `config ${configFile} lies inside the sync root ${root}: whoever writes into the folder could rewrite it (its api.baseUrl says where the API key is sent), and it would be uploaded; move it out of the root and name it with --config`,
    );
  }
  if (keyFile !== undefined && within(realPathOf(keyFile), root)) {
    throw new ConfigError(
      `api.keyFile ${keyFile} lies inside the sync root ${root}: it would be uploaded, and whoever writes into the folder could read it. Move it out (chmod 600) and point api.keyFile at it`,
    );
  }
}
