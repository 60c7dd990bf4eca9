// The Files API emulator in its own process, pinned to core 0, and its test routes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, pinned } from './env.js';
import { exited, waitForLine } from './proc.js';

/** `GET /_emulator/counters` (src/emulator/types.ts). */
export interface EmulatorCounters {
  /** Request counts by route, then by status. */
  requests: Record<string, Record<string, number>>;
  faults: Record<string, number>;
  files: number;
  /** Bytes of the files the emulator holds. */
  bytes: number;
}

export interface EmulatorOptions {
  /** Keep content on disk in a temp dir (big files), instead of in memory. */
  onDisk?: boolean;
  /** `--rate-limit N/WINDOW_MS`. */
  rateLimit?: { requests: number; windowMs: number };
  /** Options for node itself (`--cpu-prof`, ...), before the script. */
  nodeArgs?: string[];
}

/** A running emulator. */
export class Emulator {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dataDir: string | null,
    private stderr: string[],
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    const dataDir = options.onDisk ? mkdtempSync(join(tmpdir(), 'files-sync-bench-emu-')) : null;
    const args = [...(options.nodeArgs ?? []), CLI, 'emulator', '--port', '0'];
    if (dataDir) args.push('--data-dir', dataDir);
    if (options.rateLimit) args.push('--rate-limit', `${options.rateLimit.requests}/${options.rateLimit.windowMs}`);
    const [cmd, argv] = pinned(0, process.execPath, args);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    child.stderr.on('data', (c: Buffer) => {
      stderr.push(c.toString('utf8'));
      if (stderr.length > 50) stderr.shift();
    });
    try {
      const m = await waitForLine(child, /files-sync emulator listening on (\S+)/, 20_000);
      // Drain stdout from here on so the pipe never fills.
      child.stdout.resume();
      return new Emulator(m[1]!.replace(/\/$/, ''), child, dataDir, stderr);
    } catch (err) {
      child.kill('SIGKILL');
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Counters and the number and bytes of the stored files (`/_emulator/counters`: no file list, any N). */
  async counters(): Promise<EmulatorCounters> {
    return (await this.admin('GET', '/_emulator/counters')) as EmulatorCounters;
  }

  async resetCounters(): Promise<void> {
    await this.admin('POST', '/_emulator/reset-counters');
  }

  private async admin(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and removes its data dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited(this.child);
      clearTimeout(killer);
    }
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Its last stderr lines, for an error message. */
  tail(): string {
    return this.stderr.join('');
  }
}

/** Total requests over every route and status. */
export function totalRequests(c: EmulatorCounters): number {
  let n = 0;
  for (const byStatus of Object.values(c.requests)) for (const count of Object.values(byStatus)) n += count;
  return n;
}

/** Requests of one route (all statuses), e.g. `GET /v1/files`. */
export function routeRequests(c: EmulatorCounters, route: string): number {
  return Object.values(c.requests[route] ?? {}).reduce((a, b) => a + b, 0);
}

/** Answers with one status over every route, e.g. 429s. */
export function statusCount(c: EmulatorCounters, status: string): number {
  let n = 0;
  for (const byStatus of Object.values(c.requests)) n += byStatus[status] ?? 0;
  return n;
}

/** Starts an emulator, runs `use`, and always stops it. */
export async function withEmulator<T>(options: EmulatorOptions, use: (emu: Emulator) => Promise<T>): Promise<T> {
  const emu = await Emulator.start(options);
  try {
    return await use(emu);
  } finally {
    await emu.stop();
  }
}
