// The daemon's view of the Files API: whether it answers (logged once per change, probed with
// back-off while it does not), and the gate every request passes, which counts what is in flight
// and holds new requests back while the daemon drains for a stop.
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.js';
import { isAuthFailure, isUnavailable, requestIdOf } from '../failure.js';
import type { Logger } from '../log.js';
import { AbortedError } from '../remote/errors.js';
import type { CallOptions, ListOptions, DeleteResult, FileMetadata, RemoteFiles, UploadOptions, UploadResult } from '../remote/types.js';

/** First wait between two probes of an unreachable API; it doubles up to `PROBE_MAX_MS`. */
const PROBE_FIRST_MS = 1_000;
const PROBE_MAX_MS = 60_000;
/** How often a drain for a stop looks whether any request is still on the wire. */
const DRAIN_POLL_MS = 50;

/** What the health tracker needs: how to probe, and whom to tell about changes. */
export interface ApiHealthOptions {
  logger: Logger;
  /** One cheap request; resolves when the API answered. */
  probe: (signal: AbortSignal) => Promise<void>;
  /** Called once when the API stops answering (the daemon parks its path jobs). */
  onDown: () => void;
  /** Called once when it answers again (the daemon resumes and reconciles). */
  onUp: () => void;
  /** A probe met a refused key. */
  onFatal: (err: unknown) => void;
  signal: AbortSignal;
}

/**
 * Whether the API answers. `down` starts when a call gives up after the client's retries and ends
 * at the first answer; both changes are logged once ("API unreachable", "API recovered"), never
 * per retry. While down, one probe runs at a time with exponential back-off.
 */
export class ApiHealth {
  state: 'ok' | 'down' = 'ok';
  since = Date.now();
  lastError: string | null = null;
  /** Probes that failed during the current outage. */
  failedProbes = 0;
  private probing = false;

  constructor(private readonly o: ApiHealthOptions) {}

  get down(): boolean {
    return this.state === 'down';
  }

  /** A call failed; only an "unavailable" failure changes the state. */
  failed(err: unknown): void {
    if (!isUnavailable(err) || this.o.signal.aborted) return;
    this.lastError = errorMessage(err);
    if (this.state === 'down') return;
    this.state = 'down';
    this.since = Date.now();
    this.failedProbes = 0;
    this.o.logger.warn(`API unreachable: ${this.lastError}; changes wait and are retried with back-off`, {
      requestId: requestIdOf(err),
    });
    this.o.onDown();
    void this.probeLoop();
  }

  /** A call got an answer. */
  succeeded(): void {
    if (this.state === 'ok') return;
    const seconds = Math.round((Date.now() - this.since) / 1000);
    this.state = 'ok';
    this.since = Date.now();
    this.lastError = null;
    this.o.logger.info(`API recovered (unreachable for ${seconds}s); resuming`);
    this.o.onUp();
  }

  private async probeLoop(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    let wait = PROBE_FIRST_MS;
    try {
      while (this.state === 'down' && !this.o.signal.aborted) {
        await delay(wait * (0.75 + Math.random() * 0.25), undefined, { signal: this.o.signal, ref: false });
        if (this.state !== 'down') break;
        try {
          await this.o.probe(this.o.signal);
          this.succeeded();
        } catch (err) {
          if (this.o.signal.aborted) break;
          if (isAuthFailure(err)) return this.o.onFatal(err);
          if (!isUnavailable(err)) {
            this.succeeded(); // any other answer (a 4xx) means it is reachable
            break;
          }
          this.lastError = errorMessage(err);
          this.failedProbes++;
          this.o.logger.debug('API probe failed', { error: errorMessage(err), requestId: requestIdOf(err) });
        }
        wait = Math.min(wait * 2, PROBE_MAX_MS);
      }
    } catch {
      // aborted: the daemon is stopping
    } finally {
      this.probing = false;
    }
  }
}

/**
 * A logger for the Files API client that drops its warning and error lines while the API is known
 * to be down: the daemon has said so once, and each retry would say it again.
 */
export function quietWhileDown(base: Logger, health: () => ApiHealth | undefined): Logger {
  return Object.create(base, {
    write: {
      value(info: { level?: string; module?: string }) {
        const quiet = health()?.down === true && info.module === 'remote' && (info.level === 'warn' || info.level === 'error');
        return quiet ? true : base.write(info);
      },
    },
  }) as Logger;
}

/**
 * The RemoteFiles every daemon request goes through: it reports answers and failures to the
 * health tracker, counts requests and uploads in flight, and, once `drain()` was called, holds
 * new requests back until the process signal aborts them, so in-flight requests can finish while
 * no new one starts (the stop sequence of SIGTERM).
 */
export class ApiGate implements RemoteFiles {
  active = 0;
  uploads = 0;
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly inner: RemoteFiles,
    private readonly health: ApiHealth,
    private readonly signal: AbortSignal,
  ) {}

  /** The client's request counters (the reconciliation report counts API requests with them). */
  get stats(): unknown {
    return (this.inner as { stats?: unknown }).stats;
  }

  // The contract passes through: without it no GA look-up is made. The API's clock deliberately
  // does not (rule 3): the daemon uploads a path moments after it changes, with no listing before,
  // and a look-alike another application stored just before that moment is, by the offset's lower
  // bound (a `Date` header's whole second), indistinguishable from a copy of ours (torture seed
  // 3037 deleted one). Without the clock the daemon's lost answers leave unclaimed copies, which
  // `status` lists and `forget-copies` deletes on the user's word.
  get contract(): RemoteFiles['contract'] {
    return this.inner.contract;
  }

  /** Present only where the client has it: callers fall back to their own clock. */
  get serverNow(): RemoteFiles['serverNow'] {
    return this.inner.serverNow?.bind(this.inner);
  }

  /**
   * From now on new requests wait for the abort. Resolves when no upload is in flight (an upload
   * cut off may leave an orphan for the next reconciliation to sweep; any other request can be
   * cut off harmlessly), at once while the API is down (nothing in flight can succeed), and as
   * soon as the client has no request on the wire: uploads that wait for a rate-limit slot or a
   * back-off have sent nothing, and would only hold the stop for its whole grace.
   */
  drain(): Promise<void> {
    this.draining = true;
    if (this.uploads === 0 || this.health.down || this.nothingOnWire()) return Promise.resolve();
    return new Promise((resolve) => {
      const poll = setInterval(() => this.nothingOnWire() && this.idleWaiters.splice(0).forEach((r) => r()), DRAIN_POLL_MS);
      this.idleWaiters.push(() => {
        clearInterval(poll);
        resolve();
      });
    });
  }

  /** Whether the client has no request sent and unanswered (remote/exchange.ts `inFlight`). */
  private nothingOnWire(): boolean {
    return (this.stats as { inFlight?: number } | undefined)?.inFlight === 0;
  }

  async upload(path: string, options: UploadOptions): Promise<UploadResult> {
    return this.call(async () => {
      this.uploads++;
      try {
        return await this.inner.upload(path, options);
      } finally {
        this.uploads--;
        if (this.uploads === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    });
  }

  get(id: string, options?: CallOptions): Promise<FileMetadata> {
    return this.call(() => this.inner.get(id, options));
  }

  /** Present only where the client has it (GA): callers test for it. */
  get lookup(): RemoteFiles['lookup'] {
    const lookup = this.inner.lookup?.bind(this.inner);
    if (lookup === undefined) return undefined;
    return (ids, options) => this.call(() => lookup(ids, options));
  }

  delete(id: string, options?: CallOptions): Promise<DeleteResult> {
    return this.call(() => this.inner.delete(id, options));
  }

  download(id: string, toPath: string, options?: CallOptions): Promise<{ bytes: number }> {
    return this.call(() => this.inner.download(id, toPath, options));
  }

  async *list(options?: ListOptions): AsyncGenerator<FileMetadata, void, undefined> {
    await this.enter();
    try {
      yield* this.inner.list(options);
      this.health.succeeded();
    } catch (err) {
      this.health.failed(err);
      throw err;
    } finally {
      this.leave();
    }
  }

  /** One list page, for the health probe (bypasses the drain hold, counts nothing). */
  async probe(signal: AbortSignal): Promise<void> {
    const it = this.inner.list({ signal })[Symbol.asyncIterator]();
    await it.next();
    await it.return?.();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    await this.enter();
    try {
      const result = await fn();
      this.health.succeeded();
      return result;
    } catch (err) {
      this.health.failed(err);
      throw err;
    } finally {
      this.leave();
    }
  }

  private async enter(): Promise<void> {
    if (this.draining) {
      // Held until the stop sequence aborts; nothing was sent, so no orphan can come of it.
      if (!this.signal.aborted)
        await new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new AbortedError('not sent: the daemon is stopping', {
        type: 'aborted',
        retryable: false,
        attempts: 0,
        unknownOutcomeAttempts: 0,
      });
    }
    this.active++;
  }

  private leave(): void {
    this.active--;
  }
}
