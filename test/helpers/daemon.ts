// Harness for the daemon tests: `files-sync daemon` as a real child process against an in-process
// emulator, with its log lines readable while it runs, and polling helpers with deadlines.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../src/config.js';
import { queryDaemon } from '../../src/commands/daemon-client.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { expectExactState, localHashes, spawnCli, syncSetup, waitFor, type CliResult, type SyncSetup, type TestContract } from './sync.js';

/** Settings that make a daemon quick to test: short settle and delete delays, no client rate limit to speak of. */
export const FAST_DAEMON = { settleSeconds: 0.3, deleteDelaySeconds: 0.5, requestsPerMinute: 100_000 } as const;

/** A setup (root, state dir, config file) for a daemon against `emu`, speaking `contract` (default GA). */
export function daemonSetup(emu: Emulator, config: Record<string, unknown> = {}, contract: TestContract = 'ga'): SyncSetup {
  return syncSetup(emu, { ...FAST_DAEMON, ...config }, contract);
}

/** A running `files-sync daemon`. */
export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process exited. */
  done: Promise<CliResult>;
  /** Log lines (stderr) so far. */
  lines(): string[];
  /** Waits for a log line matching `re`; returns it. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Log lines matching `re` so far. */
  count(re: RegExp): number;
  /** Sends `signal` and waits for the exit, measuring how long it took. */
  stop(signal?: NodeJS.Signals): Promise<CliResult & { ms: number }>;
}

const running = new Set<ChildProcess>();

/**
 * Starts the daemon on `setup` (extra CLI arguments and environment optional) and waits until it
 * watches and finished its first reconciliation, unless `ready: false`.
 */
export async function startDaemon(
  setup: SyncSetup,
  options: { args?: string[]; env?: NodeJS.ProcessEnv; ready?: boolean } = {},
): Promise<DaemonProcess> {
  const { child, done } = spawnCli(['daemon', '--config', setup.configFile, ...(options.args ?? [])], {
    ...setup.env,
    ...options.env,
  });
  running.add(child);
  void done.then(() => running.delete(child));
  const lines: string[] = [];
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  });
  let exited: CliResult | null = null;
  void done.then((r) => (exited = r));
  const daemon: DaemonProcess = {
    child,
    pid: child.pid!,
    done,
    lines: () => [...lines],
    async waitForLine(re, timeoutMs = 20_000) {
      await waitFor(() => lines.some((l) => re.test(l)) || exited !== null, `a log line matching ${re}`, timeoutMs);
      const line = lines.find((l) => re.test(l));
      if (line === undefined) throw new Error(`the daemon exited (${JSON.stringify(exited)}) before logging ${re}:\n${lines.join('\n')}`);
      return line;
    },
    count: (re) => lines.filter((l) => re.test(l)).length,
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      child.kill(signal);
      const result = await done;
      return { ...result, ms: Date.now() - started };
    },
  };
  if (options.ready !== false) {
    await daemon.waitForLine(/initial reconciliation done/);
    if (!options.env?.FILES_SYNC_TEST_WATCHER) await daemon.waitForLine(/watching /);
  }
  return daemon;
}

/** Kills every daemon a test left running (afterEach). */
export async function killDaemons(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(
    children.map(
      (c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once('close', resolve))),
    ),
  );
}

/** The daemon's live status over its control socket. */
/**
 * The teardown every daemon test runs after each case: daemons first (they hold the state and the
 * emulator's connections), then the temp folders, then the emulator. Either may be absent.
 */
export async function tearDown(emu: Emulator | undefined, setup: SyncSetup | undefined): Promise<void> {
  await killDaemons();
  setup?.cleanup();
  await emu?.close();
}

export async function daemonStatus(setup: SyncSetup): Promise<Record<string, any>> {
  return (await queryDaemon({ stateDir: setup.stateDir } as Config, 'status')) as Record<string, any>;
}

/** True when the emulator, the ledger and the folder agree exactly (see expectExactState). */
export function isExact(emu: Emulator, setup: SyncSetup, expected = localHashes(setup.root)): boolean {
  try {
    expectExactState(emu, setup, expected);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the emulator mirrors the folder exactly, then asserts it (for a clear diff on failure). */
export async function waitForMirror(emu: Emulator, setup: SyncSetup, what: string, timeoutMs = 20_000): Promise<void> {
  try {
    await waitFor(() => fs.existsSync(path.join(setup.stateDir, 'ledger.db')) && isExact(emu, setup), what, timeoutMs);
  } finally {
    expectExactState(emu, setup, localHashes(setup.root));
  }
}

/** Our files in the emulator: remote filename → sha256. */
export function remoteFiles(emu: Emulator): Map<string, string> {
  return new Map(
    emu
      .state()
      .files.filter((f) => f.owner === 'self')
      .map((f) => [f.filename, f.sha256]),
  );
}

/** The ledger's rows (read-only, beside the running daemon). */
export function ledgerRows(setup: SyncSetup) {
  const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'), { readOnly: true });
  try {
    return ledger.files();
  } finally {
    ledger.close();
  }
}

/** The kernel's inotify event queue size (fs.inotify.max_queued_events), or 0 when unknown. */
export const INOTIFY_QUEUE_SIZE = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
})();

/**
 * Overflows the stopped daemon's inotify queue, then does `dropped` (whose events the kernel
 * drops): attribute changes alternate between two files under `root` so that the kernel cannot
 * merge them. The daemon is continued whatever happens.
 */
export function overflowWhileStopped(pid: number, root: string, dropped: () => void): void {
  const files = [path.join(root, 'noise-a.txt'), path.join(root, 'noise-b.txt')];
  for (const f of files) if (!fs.existsSync(f)) fs.writeFileSync(f, path.basename(f));
  process.kill(pid, 'SIGSTOP');
  try {
    const now = new Date();
    for (let i = 0; i < INOTIFY_QUEUE_SIZE + 1000; i++) fs.utimesSync(files[i % 2]!, now, now);
    dropped();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}
