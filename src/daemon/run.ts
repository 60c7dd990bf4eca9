// `files-sync daemon`: the config, the log and the key, then the state directory's lock, around
// one Daemon (daemon.ts) until a signal or a fatal error. A start that a full disk or a busy ledger
// ends is tried again, with back-off, until it succeeds or a signal stops the wait.
import { lockStateDir, loggerFor, type CommandContext } from '../app.js';
import { loadApiKey, loadConfig, type Config } from '../config.js';
import { ExitCode, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { Daemon } from './daemon.js';
import { passesAtStart } from './faults.js';
import { Settings } from './settings.js';

/** The first wait before another start, doubled after each failed one up to START_RETRY_MAX_MS. */
const START_RETRY_FIRST_MS = 30_000;
const START_RETRY_MAX_MS = 5 * 60_000;

/** Runs the daemon until a signal or a fatal error; resolves to the exit code. */
export async function runDaemon(context: CommandContext): Promise<number> {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  let waited = false;
  for (let delay = START_RETRY_FIRST_MS; ; delay = Math.min(delay * 2, START_RETRY_MAX_MS)) {
    try {
      // Each attempt after a wait reads the config file again (a SIGHUP during the wait asks it).
      return await runOnce(context, waited ? loadConfig(context.overrides, context.env) : config, logger, apiKey);
    } catch (err) {
      if (!passesAtStart(err)) throw err;
      // Said once; the unit is not restarted into its start limit, and nothing is lost meanwhile.
      if (!waited)
        logger.warn(`cannot start: ${errorMessage(err)}; trying again with back-off (up to every ${START_RETRY_MAX_MS / 60_000} min)`);
      waited = true;
      if (await stoppedWhileWaiting(delay, logger)) return ExitCode.ok;
    }
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
 * Waits `ms`; true as soon as SIGTERM or SIGINT asks the daemon to stop instead. The daemon's other
 * signals keep their meaning: SIGUSR1 (reconcile now) ends the wait, SIGHUP (reload) is noted, for
 * the config is read at the next start. Unhandled, SIGHUP would kill the process and SIGUSR1 open
 * Node's inspector.
 */
function stoppedWhileWaiting(ms: number, logger: Logger): Promise<boolean> {
  return new Promise((resolve) => {
    const handlers: Partial<Record<NodeJS.Signals, () => void>> = {
      SIGTERM: () => done(true),
      SIGINT: () => done(true),
      SIGUSR1: () => done(false),
      SIGHUP: () => logger.info('SIGHUP: the config is read again at the next start'),
    };
    const done = (stopped: boolean) => {
      clearTimeout(timer);
      for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
      resolve(stopped);
    };
    const timer = setTimeout(() => done(false), ms);
    for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  });
}
