// `files-sync daemon`: the config, the log and the key, then the state directory's lock, around
// one Daemon (daemon.ts) until a signal or a fatal error.
import { lockStateDir, loggerFor, type CommandContext } from '../app.js';
import { loadApiKey, loadConfig } from '../config.js';
import { Daemon } from './daemon.js';
import { startTrouble } from './faults.js';
import { Settings } from './settings.js';

/** Runs the daemon until a signal or a fatal error; resolves to the exit code. */
export async function runDaemon(context: CommandContext): Promise<number> {
  const config = loadConfig(context.overrides, context.env);
  const logger = loggerFor(context, config);
  const apiKey = loadApiKey(config, context.env);
  try {
    const lock = lockStateDir(config, 'daemon'); // a second daemon: LockedError, exit 2, naming the pid
    try {
      // The root's ignore file is read before anything starts: a bad one stops the start (exit 3).
      return await new Daemon(context, await Settings.load(config), logger, apiKey).run();
    } finally {
      lock.release();
    }
  } catch (err) {
    throw startTrouble(err);
  }
}
