// The resident service (placeholder until the daemon lands).
import type { CommandContext } from '../commands.js';
import { SyncError, ExitCode } from '../errors.js';

export async function runDaemon(_context: CommandContext): Promise<number> {
  throw new SyncError('the daemon is not implemented yet', ExitCode.usage);
}
