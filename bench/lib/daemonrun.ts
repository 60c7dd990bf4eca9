// The daemon's memory at start-up and idle (issue 13's scale row): `files-sync daemon` pinned to the
// client's core, its VmHWM when the initial reconciliation and the watcher are done, then its VmRSS
// over an idle spell, read from /proc/PID/status.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, EMULATOR_KEY, pinned } from './env.js';
import { exited } from './proc.js';

/** VmRSS and VmHWM (peak) of a live process, KiB. */
export function procMemory(pid: number): { rssKb: number; hwmKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

export interface DaemonMemory {
  /** Spawn → "initial reconciliation done" and "watching" both logged. */
  readyMs: number;
  /** VmHWM when ready: the start-up's peak. */
  startPeakKb: number;
  /** VmRSS every `idleStepMs` after ready, over the idle spell. */
  idleRssKb: number[];
  /** VmHWM at the end (the peak over the whole run). */
  endPeakKb: number;
  warnings: string[];
}

/** Runs the daemon on an already-synced tree until it is ready, then idles it; always stops it. */
export async function daemonMemory(o: {
  url: string;
  root: string;
  stateDir: string;
  config: string;
  idleMs: number;
  idleStepMs: number;
  readyTimeoutMs: number;
  /** Wait for "watching" too (default); false with FILES_SYNC_TEST_WATCHER=off, which never logs it. */
  watching?: boolean;
}): Promise<DaemonMemory> {
  const [cmd, argv] = pinned(1, process.execPath, [
    CLI,
    'daemon',
    '--config',
    o.config,
    '--root',
    o.root,
    '--state-dir',
    o.stateDir,
    '--log-format',
    'json',
  ]);
  const started = performance.now();
  const child = spawn(cmd, argv, {
    env: { ...process.env, ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: o.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const seen = (message: string) => lines.some((l) => l.includes(message));
  try {
    for (
      const deadline = performance.now() + o.readyTimeoutMs;
      !(seen('initial reconciliation done') && (o.watching === false || seen('"message":"watching')));
    ) {
      if (child.exitCode !== null) throw new Error(`the daemon exited ${child.exitCode}: ${lines.slice(-10).join('\n')}`);
      if (performance.now() > deadline)
        throw new Error(`the daemon was not ready after ${o.readyTimeoutMs / 1000} s: ${lines.slice(-10).join('\n')}`);
      await sleep(200);
    }
    const readyMs = performance.now() - started;
    const startPeakKb = procMemory(child.pid!).hwmKb;
    const idleRssKb: number[] = [];
    for (let t = 0; t < o.idleMs; t += o.idleStepMs) {
      await sleep(o.idleStepMs);
      idleRssKb.push(procMemory(child.pid!).rssKb);
    }
    const endPeakKb = procMemory(child.pid!).hwmKb;
    return {
      readyMs,
      startPeakKb,
      idleRssKb,
      endPeakKb,
      warnings: lines.filter((l) => /"level":"(warn|error)"/.test(l)).slice(0, 20),
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(killer);
    }
  }
}
