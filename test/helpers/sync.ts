// Shared harness for end-to-end tests: the built CLI as a child process, an emulator on loopback,
// temp folders, and the "exact state" check every sync must end in.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import type { RemoteFiles, UploadOptions, UploadResult } from '../../src/remote/types.js';
import { silentLogger } from '../../src/log.js';
import type { ExecuteDeps } from '../../src/sync/types.js';

/** The key the tests use; a test greps outputs for it. */
export const TEST_KEY = 'sk-ant-test-e2e-0b1d3f5a7c9e-secret';
export const CLI = path.resolve(import.meta.dirname, '..', '..', 'dist', 'files-sync.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every output any CLI run produced in this process, for the secrets check. */
export const allOutputs: string[] = [];

/** Starts the CLI (as the user `as`, when given: the tests that run as root); the caller waits on `done`. */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
  as?: { uid: number; gid: number },
): { child: ChildProcess; done: Promise<CliResult> } {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: os.tmpdir(), XDG_CONFIG_HOME: path.join(os.tmpdir(), 'fs-none'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
    ...as,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      allOutputs.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done };
}

/** Runs the CLI to its end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, as?: { uid: number; gid: number }): Promise<CliResult> {
  return spawnCli(args, env, cwd, as).done;
}

/** A temp folder removed by `cleanup()`. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A folder under `parent` that any user may write into, sticky as /tmp is: where another user can leave files. */
export function sharedFolder(parent: string, name = 'shared'): string {
  const shared = path.join(parent, name);
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o1777);
  return shared;
}

/** Writes files (relative path → content) under `root`. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** An emulator with the test key. */
export function emulator(options: Partial<EmulatorOptions> = {}): Promise<Emulator> {
  return startEmulator({ apiKey: TEST_KEY, ...options });
}

/** A sync setup: root, state dir and config file pointing at an emulator. */
export interface SyncSetup {
  dir: string;
  root: string;
  stateDir: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  sync(extra?: string[]): Promise<CliResult>;
  cleanup(): void;
}

/** The API contract a setup speaks: GA (files-sync's default) unless a test asks for the beta. */
export type TestContract = 'ga' | 'beta';

/** A sync setup against `emu`; `config` adds keys (its `api` keys are merged into the contract's). */
export function syncSetup(emu: Emulator, config: Record<string, unknown> = {}, contract: TestContract = 'ga'): SyncSetup {
  const dir = tempDir('fs-e2e-');
  const root = path.join(dir, 'root');
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(root);
  const configFile = path.join(dir, 'config.json');
  const { api, ...rest } = config as { api?: Record<string, unknown> };
  // The beta contract is spoken as SDK 0.121.0 spoke it: x-api-key and version 2023-06-01.
  const contractKeys = contract === 'beta' ? { contract: 'beta', version: '2023-06-01' } : { contract: 'ga' };
  fs.writeFileSync(
    configFile,
    JSON.stringify({ root, stateDir, settleSeconds: 0, api: { baseUrl: emu.url, ...contractKeys, ...api }, ...rest }),
  );
  const env = { ANTHROPIC_API_KEY: TEST_KEY };
  return {
    dir,
    root,
    stateDir,
    configFile,
    env,
    // Tests share emulators, so a fresh ledger meets other tests' copies of the same names and sizes:
    // they are someone else's here (the look-alike hold has its own tests in test/cli/state.test.ts).
    sync: (extra = []) => runCli(['sync', '--config', configFile, '--allow-duplicates', ...extra], env),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Our copies' remote names in the emulator, sorted. */
export function ourNames(emu: Emulator): string[] {
  return emu
    .state()
    .files.filter((f) => f.owner === 'self')
    .map((f) => f.filename)
    .sort();
}

/** Records in the state directory's ledger that `relPath`'s upload was refused until the file changes, as a 400 records it. */
export function refuseUntilChanged(setup: SyncSetup, ...relPaths: string[]): void {
  const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'));
  try {
    for (const relPath of relPaths) {
      const abs = path.join(setup.root, relPath);
      const { size, mtimeMs } = fs.statSync(abs);
      const stat = { size, mtimeMs, sha256: sha256(fs.readFileSync(abs)) };
      ledger.recordFailure(relPath, '400 invalid_request_error: refused', 'on-change', stat, Date.now());
    }
  } finally {
    ledger.close();
  }
}

/** Local files under root (relative POSIX path → content sha256), filtered by `keep`. */
export function localHashes(root: string, keep: (rel: string) => boolean = () => true): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, entry.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      if (entry.isDirectory()) visit(abs);
      else if (entry.isFile() && keep(rel)) out.set(rel, sha256(fs.readFileSync(abs)));
    }
  };
  visit(root);
  return out;
}

/**
 * The state every finished sync must leave (DESIGN.md rules 1-3): the emulator holds exactly one
 * file of ours per synced path with that path's content, the ledger names exactly those ids, and
 * nothing is left pending.
 */
export function expectExactState(emu: Emulator, setup: SyncSetup, expected: Map<string, string>, foreignIds: string[] = []): void {
  const state = emu.state();
  const ours = state.files.filter((f) => f.owner === 'self');
  const ledger = Ledger.open(path.join(setup.stateDir, 'ledger.db'), { readOnly: true });
  try {
    const rows = ledger.files();
    expect(new Map(rows.map((r) => [r.path, r.sha256]))).toEqual(expected);
    expect(ours.map((f) => f.id).sort()).toEqual(rows.map((r) => r.fileId).sort());
    const byId = new Map(ours.map((f) => [f.id, f]));
    for (const row of rows) expect(byId.get(row.fileId)?.sha256, row.path).toBe(row.sha256);
    expect(ledger.pendingDeletes()).toEqual([]);
    expect(ledger.inFlight()).toEqual([]);
  } finally {
    ledger.close();
  }
  const foreign = new Set(state.files.filter((f) => f.owner !== 'self').map((f) => f.id));
  for (const id of foreignIds) expect(foreign.has(id), `foreign file ${id} untouched`).toBe(true);
}

/** Waits until `check` returns true, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Request count of one route in the emulator's counters, all statuses. */
export function requestsOf(emu: Emulator, route: string): number {
  return Object.values(emu.state().requests[route] ?? {}).reduce((a, b) => a + b, 0);
}

/** Request counts of every route, all statuses together. */
export function requestTotals(emu: Emulator): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [route, byStatus] of Object.entries(emu.state().requests)) out[route] = Object.values(byStatus).reduce((a, b) => a + b, 0);
  return out;
}

/**
 * Forwards every call to `remote` (its optional look-ups and clock too), running `hook` once before
 * the first upload: in a sync, the moment after the walk.
 */
export function beforeFirstUpload(remote: RemoteFiles, hook: () => void): RemoteFiles {
  let hooked = false;
  return {
    list: (o) => remote.list(o),
    get: (id, o) => remote.get(id, o),
    delete: (id, o) => remote.delete(id, o),
    download: (id, to, o) => remote.download(id, to, o),
    ...(remote.lookup
      ? { lookup: (ids: readonly string[], o?: Parameters<NonNullable<RemoteFiles['lookup']>>[1]) => remote.lookup!(ids, o) }
      : {}),
    ...(remote.clockOffsetMs ? { clockOffsetMs: () => remote.clockOffsetMs!() } : {}),
    ...(remote.serverNow ? { serverNow: () => remote.serverNow!() } : {}),
    ...(remote.contract ? { contract: remote.contract } : {}),
    upload(file: string, options: UploadOptions): Promise<UploadResult> {
      if (!hooked) {
        hooked = true;
        hook();
      }
      return remote.upload(file, options);
    },
  };
}

/**
 * Forwards list, get, upload and download to `remote`; each delete is counted (`started()`) and
 * then waits: `releaseOne()` lets the oldest waiting one go on, `release()` every one from then on
 * (a delete queue that fills up and stays full until the test says).
 */
export function gatedDeletes(remote: RemoteFiles): {
  remote: RemoteFiles;
  release: () => void;
  releaseOne: () => void;
  started: () => number;
} {
  const waiting: (() => void)[] = [];
  let open = false;
  let started = 0;
  return {
    remote: {
      list: (o) => remote.list(o),
      get: (id, o) => remote.get(id, o),
      upload: (file, o) => remote.upload(file, o),
      download: (id, to, o) => remote.download(id, to, o),
      async delete(id, o) {
        started++;
        if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
        return remote.delete(id, o);
      },
    },
    release: () => {
      open = true;
      for (const go of waiting.splice(0)) go();
    },
    releaseOne: () => waiting.shift()?.(),
    started: () => started,
  };
}

/** An executor's dependencies for a test of its queue: quiet, no settle time, files up to 1 MiB, 8 at once. */
export function testExecuteDeps(root: string, remote: RemoteFiles, ledger: Ledger, extra: Partial<ExecuteDeps> = {}): ExecuteDeps {
  return { root, remote, ledger, logger: silentLogger(), concurrency: 8, maxFileBytes: 1 << 20, settleMs: 0, ...extra };
}

/**
 * Deletes `dir` with what it holds and makes it again, as `rm -rf dir && mkdir dir` does, until the
 * new directory got the old one's inode number (ext4 hands a freed number out again unless another
 * process takes it first, as other test workers may): false after 50 tries.
 */
export function remadeOnSameInode(dir: string): boolean {
  for (let attempt = 0; attempt < 50; attempt++) {
    const ino = fs.statSync(dir).ino;
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    if (fs.statSync(dir).ino === ino) return true;
  }
  return false;
}

/**
 * Whether the file system of `near` (a directory) keeps real birth times (statx): a chmod a clock
 * tick after a directory's birth moves its change time, not its birth time.
 */
export async function birthTimesReal(near: string): Promise<boolean> {
  const probe = fs.mkdtempSync(path.join(path.dirname(near), '.birth-'));
  try {
    await ageDirectory(probe);
    const s = fs.statSync(probe);
    return s.birthtimeMs !== 0 && s.birthtimeMs !== s.ctimeMs;
  } finally {
    fs.rmdirSync(probe);
  }
}

/**
 * Moves `dir`'s change time past its birth time, as any folder in use has had: the kernel's clock
 * for file times ticks every few milliseconds, so a folder made and filled at once has them equal,
 * and files-sync trusts a device's birth times only once it saw them differ (dir-children.ts).
 */
export async function ageDirectory(dir: string): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
  fs.chmodSync(dir, fs.statSync(dir).mode & 0o7777);
}
