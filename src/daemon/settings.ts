// The daemon's live configuration: the frozen Config and the path filter built from it (and from
// the root's ignore file), replaced as a whole on SIGHUP or when the ignore file changes.
import { loadConfig, type Config, type ConfigOverrides } from '../config.js';
import { errorMessage } from '../errors.js';
import { buildFilter, filterHash } from '../local/filter.js';
import type { PathFilter } from '../local/types.js';
import type { Logger } from '../log.js';
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
  /**
   * `FILES_SYNC_TEST_WATCH_DELAY_MS=N`: every (re)start of the watcher waits N ms before it sets its
   * watches, the gap a loaded machine opens between a restart and the watch being in place.
   */
  watchDelayMs: number;
  /** `FILES_SYNC_TEST_LOCK_RETRY_MS=N`: a start that found the state held by a command looks again every N ms (run.ts LOCK_RETRY_MS). */
  lockRetryMs: number | null;
}

/** Reads the test hooks (the daemon does, at the command-line edge). */
export function readTestHooks(env: NodeJS.ProcessEnv): TestHooks {
  const watcher = env.FILES_SYNC_TEST_WATCHER;
  const seconds = Number(env.FILES_SYNC_TEST_RECONCILE_SECONDS);
  const delay = Number(env.FILES_SYNC_TEST_WATCH_DELAY_MS);
  const lockRetry = Number(env.FILES_SYNC_TEST_LOCK_RETRY_MS);
  return {
    watcher: watcher === 'off' || watcher === 'enospc' ? watcher : 'on',
    reconcileMs: seconds > 0 ? seconds * 1000 : null,
    watchDelayMs: delay > 0 ? delay : 0,
    lockRetryMs: lockRetry > 0 ? lockRetry : null,
  };
}

/** Whether any test hook is set (the daemon says so at start). */
export function testHooksActive(hooks: TestHooks): boolean {
  return hooks.watcher !== 'on' || hooks.reconcileMs !== null || hooks.watchDelayMs > 0 || hooks.lockRetryMs !== null;
}

/**
 * Keys a running daemon cannot change: the root (its ledger knows that folder: another one would
 * be synced into it), the ledger and lock, and the API client built at start.
 */
const FIXED_AT_START = ['root', 'stateDir', 'api', 'requestsPerMinute'] as const;

/** What a reload changed, for the daemon to act on. */
export interface SettingsChange {
  /** The root, symlink handling or filter changed: watch again and reconcile. */
  rewatch: boolean;
  intervalChanged: boolean;
}

/** A built filter and the options it was built from (for its hash). */
export type BuiltFilter = Awaited<ReturnType<typeof buildFilter>>;

/** The configuration in force and its filter. */
export class Settings {
  private current: Config;
  private builtFilter: BuiltFilter;
  private hash: string;
  /** The last reason a new filter could not be built, so that it is logged once, not per event. */
  private lastFailure: string | null = null;
  /** Rebuilds run one at a time, in order, so an older read never replaces a newer one. */
  private rebuilding: Promise<unknown> = Promise.resolve();

  private constructor(config: Config, built: BuiltFilter) {
    this.current = config;
    this.builtFilter = built;
    this.hash = filterHash(built.options);
  }

  /** Builds the filter of `config`; rejects like `buildFilter` (a bad ignore file: GuardError). */
  static async load(config: Config): Promise<Settings> {
    return new Settings(config, await buildFilter(config));
  }

  get config(): Config {
    return this.current;
  }

  get filter(): PathFilter {
    return this.builtFilter.filter;
  }

  /** The filter with its options, for a reconciliation to use as it is. */
  get built(): BuiltFilter {
    return this.builtFilter;
  }

  /**
   * Reads the config file again (SIGHUP). A config that cannot be loaded is logged and the running
   * one kept (null). Keys fixed at start keep their running values, with a warning.
   */
  reload(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, log: Logger): Promise<SettingsChange | null> {
    let next: Config;
    try {
      next = loadConfig(overrides, env);
    } catch (err) {
      log.error(`configuration not reloaded, the running one is kept: ${errorMessage(err)}`);
      return Promise.resolve(null);
    }
    const cur = this.current;
    const fixed = FIXED_AT_START.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(cur[k]));
    if (fixed.length > 0) {
      log.warn(`changes to ${fixed.join(', ')} take effect at the next start`);
      next = Object.freeze({ ...next, root: cur.root, stateDir: cur.stateDir, api: cur.api, requestsPerMinute: cur.requestsPerMinute });
    }
    return this.apply(() => next, 'configuration reloaded', log);
  }

  /** The root's ignore file changed (or may have: before a reconciliation): rebuild the filter. */
  ignoreFileChanged(log: Logger): Promise<SettingsChange | null> {
    return this.apply(() => this.current, 'the ignore file changed', log);
  }

  /** Queues a rebuild; never rejects (a failure is logged once and the running filter kept). */
  private apply(next: () => Config, why: string, log: Logger): Promise<SettingsChange | null> {
    const run = this.rebuilding.then(() => this.rebuild(next(), why, log));
    this.rebuilding = run;
    return run;
  }

  private async rebuild(next: Config, why: string, log: Logger): Promise<SettingsChange | null> {
    let built: BuiltFilter;
    try {
      built = await buildFilter(next);
    } catch (err) {
      const reason = errorMessage(err);
      if (reason !== this.lastFailure) log.error(`${why}, but the filter cannot be built (${reason}); the running configuration is kept`);
      this.lastFailure = reason;
      return null;
    }
    if (this.lastFailure !== null) log.info('the filter can be built again');
    this.lastFailure = null;
    const cur = this.current;
    const hash = filterHash(built.options);
    const change: SettingsChange = {
      rewatch: next.root !== cur.root || next.followSymlinks !== cur.followSymlinks || hash !== this.hash,
      intervalChanged: next.reconcileIntervalMinutes !== cur.reconcileIntervalMinutes,
    };
    this.current = next;
    this.builtFilter = built;
    this.hash = hash;
    if (next !== cur || change.rewatch) log.info(why, { root: next.root, rewatch: change.rewatch });
    return change;
  }
}
