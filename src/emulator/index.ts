// Programmatic entry of the Files API emulator: start one on loopback, drive it, close it.
import { silentLogger } from '../log.js';
import { DiskBackend } from './backend.js';
import { MemoryBackend } from './backend-memory.js';
import { EmulatorCore } from './core.js';
import { keyDigest } from './headers.js';
import { listen, type RunningServer } from './server.js';
import { FileStore } from './store.js';
import type { EmulatorOptions, EmulatorState, FaultConfig, InspectedFile, RateLimitConfig, SeedRequest } from './types.js';

export type { EmulatorOptions, EmulatorState, FaultConfig, InspectedFile, RateLimitConfig, SeedRequest } from './types.js';
export { DEFAULT_SEED_OWNER } from './core.js';
export { FILES_BETA, KNOWN_BETAS } from './headers.js';
export { MAX_LOOKUP_IDS } from './paging.js';

/** The key the emulator accepts when none is configured. It is a test key, not a secret. */
export const DEFAULT_EMULATOR_KEY = 'sk-emulator-local';

/** Default cap on an upload request: 500,000,000 bytes (413 above). */
export const DEFAULT_MAX_FILE_BYTES = 500_000_000;

/** Default storage quota: 500 GB. */
export const DEFAULT_STORAGE_QUOTA_BYTES = 500_000_000_000;

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT` (or the configured host): use as the client's base URL. */
  url: string;
  port: number;
  /** Every live file with its sha256 and owner, the request counters and the fault counters. */
  state(): EmulatorState;
  /** Replaces the fault configuration (throws TypeError when invalid). */
  setFaults(f: FaultConfig): void;
  /** Sets or removes the rate limit. */
  setRateLimit(r: RateLimitConfig | undefined): void;
  /** Stores a file as another application would have. */
  seed(req: SeedRequest): InspectedFile;
  /** Moves the emulator's clock (created_at, expires_at, the Date header) ahead by `ms`. */
  advanceClock(ms: number): void;
  /** Makes a file's content expire `seconds` from now on the emulator's clock. */
  expire(id: string, seconds: number): InspectedFile;
  /** Zeroes the request and fault counters. */
  resetCounters(): void;
  /**
   * Sets how far the emulator's clock (`created_at`, `Date`) runs ahead of the host's. `created_at`
   * never goes back: after a step back, new files are stamped just after the newest one.
   */
  setClockOffset(ms: number): void;
  /** Closes the server and every connection, keep-alive ones too; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts an emulator. Without `dataDir` files live in memory; with it they are stored there and
 * survive a restart on the same directory. Listens on 127.0.0.1 and an ephemeral port by default.
 */
export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  if (typeof opts.apiKey !== 'string' || opts.apiKey === '') throw new TypeError('apiKey must be a non-empty string');
  const host = opts.host ?? '127.0.0.1';
  const backend = opts.dataDir === undefined ? new MemoryBackend() : new DiskBackend(opts.dataDir);
  const store = await FileStore.open(backend, opts.storageQuotaBytes ?? DEFAULT_STORAGE_QUOTA_BYTES);
  store.clock.offsetMs = opts.clockOffsetMs ?? 0;
  const logger = opts.logger ?? silentLogger();
  let core: EmulatorCore;
  let server: RunningServer;
  try {
    const settings = {
      apiKeyDigest: keyDigest(opts.apiKey),
      maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    };
    core = new EmulatorCore(store, settings, logger, opts.faults, opts.rateLimit);
    server = await listen(core, host, opts.port ?? 0);
  } catch (err) {
    await store.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${server.port}`,
    port: server.port,
    state: () => core.state(),
    setFaults: (f) => core.setFaults(f),
    setRateLimit: (r) => core.setRateLimit(r),
    seed: (req) => core.seed(req),
    advanceClock: (ms) => core.advanceClock(ms),
    expire: (id, seconds) => core.expire(id, seconds),
    resetCounters: () => core.resetCounters(),
    setClockOffset: (ms) => {
      if (!Number.isFinite(ms)) throw new TypeError('the clock offset must be a finite number of milliseconds');
      store.clock.offsetMs = ms;
    },
    close() {
      closing ??= server.close().then(() => store.close());
      return closing;
    },
  };
}
