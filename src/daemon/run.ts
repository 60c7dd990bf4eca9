// `files-sync daemon`: the config, the log and the key, then the state directory's lock, around
// one Daemon (daemon.ts) until a signal or a fatal error. A start that a full disk, a busy ledger
// or a refused `.filesyncignore` ends is tried again until it succeeds or a signal stops the wait.
import { lockStateDir, loggerFor, type CommandContext } from '../app.js';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import { ExitCode, errorMessage } from '../errors.js';
import { RootFileError } from '../local/rootfile.js';
import { LockedError } from '../lock.js';
import type { Logger } from '../log.js';
import { Daemon } from './daemon.js';
import { heldByCommand, passesAtStart } from './faults.js';
import { Settings, readTestHooks } from './settings.js';

/** The first wait before another start, doubled after each failed one up to START_RETRY_MAX_MS. */
const START_RETRY_FIRST_MS = 30_000;
const START_RETRY_MAX_MS = 5 * 60_000;
/** The wait while a one-shot command (a scheduled sync) holds the state directory: it ends by itself. */
const LOCK_RETRY_MS = 5_000;
/** The wait before the root's ignore file, refused, is read again: a fixed file is taken within it (SIGUSR1: at once). */
const ROOT_FILE_RETRY_MS = 10_000;
/** Waits for a holder that does not name itself (its hint not written yet) before it counts as another daemon: ~30 s. */
const UNNAMED_HOLDER_POLLS = 6;

/** Runs the daemon until a signal or a fatal error; resolves to the exit code. */
export async function runDaemon(context: CommandContext): Promise<number> {
  let config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  let apiKey = loadApiKey(config, context.env);
  // SIGHUP and SIGUSR1 have a listener for as long as the daemon runs: between its attempts too,
  // where their default actions would kill it (SIGHUP) or open Node's inspector (SIGUSR1). The
  // Daemon's own handlers act once it has started; these act only during a wait.
  const wait = new StartWait(logger);
  const lockRetryMs = readTestHooks(context.env).lockRetryMs ?? LOCK_RETRY_MS;
  try {
    for (let delay = START_RETRY_FIRST_MS, said = '', unnamed = 0, unread: string | null = null; ;) {
      try {
        return await runOnce(context, config, logger, apiKey);
      } catch (err) {
        if (!passesAtStart(err)) throw err;
        // A holder that never names itself may be a daemon whose hint is gone (or in another pid
        // namespace): waited for a while, as one that has not written its hint yet, then exit 2.
        unnamed = err instanceof LockedError && err.pid === null ? unnamed + 1 : 0;
        if (unnamed > UNNAMED_HOLDER_POLLS) throw err;
        // Said once a kind; the unit is not restarted into its start limit, and nothing is lost meanwhile.
        const held = heldByCommand(err);
        const refused = err instanceof RootFileError;
        const saying = held
          ? `cannot start yet: ${errorMessage(err)}; starting once it has finished (looking every ${lockRetryMs / 1000} s)`
          : refused
            ? `cannot start: ${errorMessage(err)}; nothing is synced until it is fixed (looking again every ${ROOT_FILE_RETRY_MS / 1000} s)`
            : `cannot start: ${errorMessage(err)}; trying again with back-off (up to every ${START_RETRY_MAX_MS / 60_000} min)`;
        if (saying !== said) logger.warn(saying);
        said = saying;
        if (await wait.for(held ? lockRetryMs : refused ? ROOT_FILE_RETRY_MS : delay)) return ExitCode.ok;
        if (!held && !refused) delay = Math.min(delay * 2, START_RETRY_MAX_MS);
        ({ config, apiKey, unread } = reread(context, { config, apiKey, unread }, logger));
      }
    }
  } finally {
    wait.dispose();
  }
}

/** What the start uses, and why the config file could not be read again (null: it was). */
interface StartInputs {
  config: Config;
  apiKey: string;
  unread: string | null;
}

/**
 * The config file (and key) read again before another attempt; a bad one is logged (once until
 * the reason changes: the wait for a long sync polls every 5 s) and the last kept, as a reload keeps it.
 */
function reread(context: CommandContext, last: StartInputs, logger: Logger): StartInputs {
  try {
    const next = loadConfig(context.overrides, context.env);
    return { config: next, apiKey: loadApiKey(next, context.env), unread: null };
  } catch (err) {
    const reason = errorMessage(err);
    if (reason !== last.unread) logger.error(`config not read again: ${reason}; the last one is kept`);
    return { config: last.config, apiKey: last.apiKey, unread: reason };
  }
}

async function runOnce(context: CommandContext, config: Config, logger: Logger, apiKey: string): Promise<number> {
  const lock = lockStateDir(config, 'daemon'); // a second daemon: LockedError, exit 2, naming the pid
  try {
    // The root's ignore file is read before anything starts: a bad one holds the start (RootFileError).
    return await new Daemon(context, await Settings.load(config), logger, apiKey).run();
  } finally {
    lock.release();
  }
}

/**
 * The waits between attempts: `for(ms)` resolves true as soon as SIGTERM or SIGINT asks the daemon
 * to stop instead; SIGUSR1 (reconcile now) ends a wait, SIGHUP (reload) is noted (the config is read
 * again before the next attempt). Outside a wait SIGHUP and SIGUSR1 do nothing here.
 */
class StartWait {
  private waiting: ((stopped: boolean) => void) | null = null;
  private readonly onHup = () => {
    if (this.waiting) this.logger.info('SIGHUP: the config is read again at the next start');
  };
  private readonly onUsr1 = () => this.waiting?.(false);
  private readonly onStop = () => this.waiting?.(true);

  constructor(private readonly logger: Logger) {
    process.on('SIGHUP', this.onHup);
    process.on('SIGUSR1', this.onUsr1);
  }

  for(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.waiting?.(false), ms);
      process.on('SIGTERM', this.onStop);
      process.on('SIGINT', this.onStop);
      this.waiting = (stopped) => {
        this.waiting = null;
        clearTimeout(timer);
        process.off('SIGTERM', this.onStop);
        process.off('SIGINT', this.onStop);
        resolve(stopped);
      };
    });
  }

  dispose(): void {
    this.waiting?.(true);
    process.off('SIGHUP', this.onHup);
    process.off('SIGUSR1', this.onUsr1);
  }
}
