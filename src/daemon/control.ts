// The daemon's control socket (placeholder until the daemon lands).
import type { Config } from '../config.js';
import type { CommandContext } from '../commands.js';
import { SyncError, ExitCode } from '../errors.js';
import type { Logger } from '../log.js';

export async function syncThroughDaemon(_config: Config, _context: CommandContext, _logger: Logger): Promise<number> {
  throw new SyncError('the daemon is not implemented yet', ExitCode.usage);
}

export async function queryDaemon(_config: Config, _what: 'status'): Promise<unknown> {
  return null;
}
