// `files-sync daemon`: the config, the log and the key, then the state directory's lock, around
// one Daemon (daemon.ts) until a signal or a fatal error. A start that a full disk or a busy ledger
// ends is tried again, with back-off, until it succeeds or a signal stops the wait.
import { lockStateDir, loggerFor, type CommandContext } from '../app.js';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import { ExitCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { Daemon } from './daemon.js';
import { heldByCommand, passesAtStart } from './faults.js';
import { Settings } from './settings.js';

/** The first wait before another start, doubled after each failed one up to START_RETRY_MAX_MS. */
const START_RETRY_FIRST_MS = 30_000;
const START_RETRY_MAX_MS = 5 * 60_000;
/** The wait while a one-shot command (a scheduled sync) holds the state directory: it ends by itself. */
export const LOCK_RETRY_MS = 5_000;

/** Runs the daemon until a signal or a fatal error; resolves to the exit code. */
export async function runDaemon(context: CommandContext): Promise<number> {
  let config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  let apiKey = loadApiKey(config, context.env);
  // SIGHUP and SIGUSR1 have a listener for as long as the daemon runs: between its attempts too,
  // where their default actions would kill it (SIGHUP) or open Node's inspector (SIGUSR1). The
  // Daemon's own handlers act once it has started; these act only during a wait.
  const wait = new StartWait(logger);
  try {
    for (let delay = START_RETRY_FIRST_MS, said = ''; ;) {
      try {
        return await runOnce(context, config, logger, apiKey);
      } catch (err) {
        if (!passesAtStart(err)) throw err;
        // Said once a kind; the unit is not restarted into its start limit, and nothing is lost meanwhile.
        const held = heldByCommand(err);
        const saying = held
          ? `cannot start yet: ${errorMessage(err)}; starting once it has finished (looking every ${LOCK_RETRY_MS / 1000} s)`
          : `cannot start: ${errorMessage(err)}; trying again with back-off (up to every ${START_RETRY_MAX_MS / 60_000} min)`;
        if (saying !== said) logger.warn(saying);
        said = saying;
        if (await wait.for(held ? LOCK_RETRY_MS : delay)) return ExitCode.ok;
        if (!held) delay = Math.min(delay * 2, START_RETRY_MAX_MS);
        ({ config, apiKey } = reread(context, config, apiKey, logger));
      }
    }
  } finally {
    wait.dispose();
  }
}

/** The config file (and key) read again before another attempt; a bad one is logged and the last kept, as a reload keeps it. */
function reread(context: CommandContext, config: Config, apiKey: string, logger: Logger): { config: Config; apiKey: string } {
  try {
    const next = loadConfig(context.overrides, context.env);
    return { config: next, apiKey: loadApiKey(next, context.env) };
  } catch (err) {
    logger.error(`config not read again: ${errorMessage(err)}; the last one is kept`);
    return { config, apiKey };
  }
}

async function runOnce(context: CommandContext, config: Config, logger: Logger, apiKey: string): Promise<number> {
  const lock = lockStateDir(config, 'daemon'); // a second daemon: LockedError, exit 2, naming the pid
  try {
    // The root's ignore file is read before anything starts: a bad one stops the start (exit 3).
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
