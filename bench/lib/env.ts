// Where things are (the repository, the built CLI, the compiled bench) and what this machine is.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist-bench/lib → the repository root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled bench (dist-bench/). */
export const BENCH_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The built CLI, run as a user runs it. */
export const CLI = join(REPO, 'dist', 'files-sync.js');
/** The key the emulator accepts by default. */
export const EMULATOR_KEY = 'sk-emulator-local';

/** A compiled bench script, e.g. `clients/ceiling.js`. */
export function benchScript(rel: string): string {
  return join(BENCH_DIST, rel);
}

function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** `taskset`, when present and allowed to pin (a container may refuse). */
export const TASKSET: string | null = (() => {
  const path = which('taskset');
  if (!path || os.availableParallelism() < 2) return null;
  try {
    execFileSync(path, ['-c', '0', 'true']);
    return path;
  } catch {
    return null;
  }
})();

/**
 * The command line that runs `cmd args` on one core: 0 for the emulator, 1 for the client under
 * test. taskset execs the command, so the pid is the command's own.
 */
export function pinned(core: 0 | 1, cmd: string, args: string[]): [string, string[]] {
  return TASKSET ? [TASKSET, ['-c', String(core), cmd, ...args]] : [cmd, args];
}

/** The machine, for BENCHMARKS.md. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  ramGiB: number;
  node: string;
  os: string;
  taskset: boolean;
  tmpdir: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    taskset: TASKSET !== null,
    tmpdir: os.tmpdir(),
  };
}

/** True when the build the bench measures is there. */
export function checkBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
}
