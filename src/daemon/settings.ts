// The daemon's live configuration: the frozen Config and the path filter built from it (and from
// the root's ignore file), replaced as a whole on SIGHUP or when the ignore file changes.
import { loadConfig, type Config, type ConfigOverrides } from '../config.js';
import { errorMessage } from '../errors.js';
import { filterHash } from '../local/filter.js';
import type { PathFilter } from '../local/types.js';
import type { Logger } from '../log.js';
import { buildFilter } from '../sync/reconcile.js';
import type { WatcherMode } from './watcher.js';

/** Knobs for tests, from the environment; not settings (no user needs them). */
export interface TestHooks {
  /** `FILES_SYNC_TEST_WATCHER=off|enospc`: no watcher, or one that fails as if the inotify limit were reached. */
  watcher: WatcherMode;
  /**
   * `FILES_SYNC_TEST_RECONCILE_SECONDS=N`: the periodic reconciliation every N s (±20%) instead of
   * `reconcileIntervalMinutes`, whose minimum is one minute.
   */
  reconcileMs: number | null;
}

/** Reads the test hooks (the daemon does, at the command-line edge). */
export function readTestHooks(env: NodeJS.ProcessEnv): TestHooks {
  const watcher = env.FILES_SYNC_TEST_WATCHER;
  const seconds = Number(env.FILES_SYNC_TEST_RECONCILE_SECONDS);
  return { watcher: watcher === 'off' || watcher === 'enospc' ? watcher : 'on', reconcileMs: seconds > 0 ? seconds * 1000 : null };
}

/** Keys a running daemon cannot change: the ledger and lock, and the API client built at start. */
const FIXED_AT_START = ['stateDir', 'api', 'requestsPerMinute'] as const;

/** What a reload changed, for the daemon to act on. */
export interface SettingsChange {
  /** The root, symlink handling or filter changed: watch again and reconcile. */
  rewatch: boolean;
  intervalChanged: boolean;
}

/** The configuration in force and its filter. */
export class Settings {
  private current: Config;
  private builtFilter: PathFilter;
  private hash: string;

  /** Builds the filter of `config`; throws like `buildFilter` (an unreadable ignore file). */
  constructor(config: Config) {
    const built = buildFilter(config);
    this.current = config;
    this.builtFilter = built.filter;
    this.hash = filterHash(built.options);
  }

  get config(): Config {
    return this.current;
  }

  get filter(): PathFilter {
    return this.builtFilter;
  }

  /**
   * Reads the config file again (SIGHUP). A config that cannot be loaded is logged and the running
   * one kept (null). Keys fixed at start keep their running values, with a warning.
   */
  reload(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, log: Logger): SettingsChange | null {
    let next: Config;
    try {
      next = loadConfig(overrides, env);
    } catch (err) {
      log.error(`configuration not reloaded, the running one is kept: ${errorMessage(err)}`);
      return null;
    }
    const cur = this.current;
    const fixed = FIXED_AT_START.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(cur[k]));
    if (fixed.length > 0) {
      log.warn(`changes to ${fixed.join(', ')} take effect at the next start`);
      next = Object.freeze({ ...next, stateDir: cur.stateDir, api: cur.api, requestsPerMinute: cur.requestsPerMinute });
    }
    return this.apply(next, 'configuration reloaded', log);
  }

  /** The root's ignore file changed: rebuild the filter. */
  ignoreFileChanged(log: Logger): SettingsChange | null {
    return this.apply(this.current, 'the ignore file changed', log);
  }

  private apply(next: Config, why: string, log: Logger): SettingsChange | null {
    let built;
    try {
      built = buildFilter(next);
    } catch (err) {
      log.error(`${why}, but the filter cannot be built (${errorMessage(err)}); the running configuration is kept`);
      return null;
    }
    const cur = this.current;
    const hash = filterHash(built.options);
    const change: SettingsChange = {
      rewatch: next.root !== cur.root || next.followSymlinks !== cur.followSymlinks || hash !== this.hash,
      intervalChanged: next.reconcileIntervalMinutes !== cur.reconcileIntervalMinutes,
    };
    this.current = next;
    this.builtFilter = built.filter;
    this.hash = hash;
    if (next !== cur || change.rewatch) log.info(why, { root: next.root, rewatch: change.rewatch });
    return change;
  }
}
