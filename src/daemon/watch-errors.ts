// The watcher's errors inside the tree (a folder that cannot be watched), said without flooding:
// a writer of the folder can make folders that cannot be watched without end (mode 000 against
// the service's user, names past PATH_MAX), each one an error naming its folder.
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** Watch errors logged per kind (code) and start of the watch. */
export const WATCH_ERRORS_LOGGED = 3;

/** Says the first few watch errors of each kind since the watch last started. */
export class WatchErrorLog {
  readonly #said = new Map<string, number>();

  constructor(private readonly logger: Logger) {}

  /** The watch started again: its errors are said anew. */
  clear(): void {
    this.#said.clear();
  }

  /** Logs `err` (whose code is `code`) unless WATCH_ERRORS_LOGGED of its kind were said already. */
  say(err: Error, code: string): void {
    const said = this.#said.get(code) ?? 0;
    if (said >= WATCH_ERRORS_LOGGED) return;
    this.#said.set(code, said + 1);
    const more =
      said + 1 === WATCH_ERRORS_LOGGED ? `; more of this kind (${code || 'error'}) are not logged until the watch starts again` : '';
    this.logger.warn(`watcher error: ${errorMessage(err)}; reconciling to catch what it missed${more}`, { code });
  }
}
