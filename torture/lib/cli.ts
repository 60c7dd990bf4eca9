// The built CLI (dist/files-sync.js) as separate processes: one-shot commands with their outputs kept in
// the run's log folder, a `sync` killed after a delay, and a daemon that can be killed and restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: torture/lib (sources under vitest) or dist-torture/torture/lib (compiled). */
export const REPO = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root above the torture suite');
    dir = up;
  }
  return dir;
})();

/** The built CLI, run as a user runs it. */
export const CLI = path.join(REPO, 'dist', 'files-sync.js');

/** The key the torture emulator accepts: a test key, not a secret. */
export const TORTURE_KEY = 'sk-torture-local-key';

/** How a CLI run ended. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the suite sent SIGKILL before the process ended on its own. */
  killed: boolean;
  ms: number;
}

/** Where a run's CLI outputs go, one numbered file per process. */
export class CliRunner {
  private seq = 0;

  constructor(
    readonly configFile: string,
    readonly logDir: string,
  ) {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run torture does)`);
    fs.mkdirSync(logDir, { recursive: true });
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: os.tmpdir(),
      XDG_CONFIG_HOME: path.join(os.tmpdir(), 'files-sync-torture-none'),
      ANTHROPIC_API_KEY: TORTURE_KEY,
    };
  }

  /** Starts `files-sync <command> --config C ...`; its stderr streams to a log file as it runs. */
  start(command: string, args: string[] = []): { child: ChildProcess; logFile: string; done: Promise<CliResult> } {
    const label = `${String(++this.seq).padStart(4, '0')}-${command}`;
    const logFile = path.join(this.logDir, `${label}.log`);
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, command, '--config', this.configFile, ...args], {
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = fs.createWriteStream(logFile);
    out.write(`$ files-sync ${command} ${args.join(' ')}\n`);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      out.write(d);
    });
    const done = new Promise<CliResult>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        const killed = signal === 'SIGKILL';
        out.end(
          `\n--- stdout ---\n${stdout}\n--- exit ${code ?? ''} ${signal ?? ''}${killed ? ' (killed by the suite)' : ''} after ${Date.now() - started} ms ---\n`,
        );
        resolve({ code, signal, stdout, stderr, killed, ms: Date.now() - started });
      });
    });
    return { child, logFile, done };
  }

  /** Runs a command to its end; SIGKILLs it after `timeoutMs` (then `killed` is true). */
  async run(command: string, args: string[] = [], timeoutMs = 300_000): Promise<CliResult> {
    const { child, done } = this.start(command, args);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `sync --json`, killed with SIGKILL after `killAfterMs` when given. The workspace's
   * colliding files are foreign by construction, so the fresh ledger's look-alike hold is answered
   * as an operator would answer it: `--allow-duplicates`.
   */
  sync(killAfterMs: number | null, timeoutMs = 300_000): Promise<CliResult> {
    return this.run('sync', ['--json', '--allow-duplicates'], killAfterMs ?? timeoutMs);
  }
}

/** A daemon under torture. */
export class DaemonRun {
  private readonly proc: ReturnType<CliRunner['start']>;
  private result: CliResult | null = null;

  constructor(cli: CliRunner) {
    this.proc = cli.start('daemon');
    void this.proc.done.then((r) => (this.result = r));
  }

  /** Whether it is still running. */
  get running(): boolean {
    return this.result === null;
  }

  /** SIGKILL; resolves when it is gone. */
  kill(): Promise<CliResult> {
    if (this.running) this.proc.child.kill('SIGKILL');
    return this.proc.done;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<CliResult> {
    if (this.running) this.proc.child.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.child.kill('SIGKILL'), graceMs);
    try {
      return await this.proc.done;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Waits `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
