// Running the client under test as a child on its own core: wall time from spawn to exit, its
// output, and what the probe preload reports (peak RSS, CPU, bytes read).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchScript, pinned } from './env.js';
import type { ProbeReport } from './probe.js';

/** One finished child. */
export interface Measured {
  wallMs: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** null for commands that are not Node (no probe). */
  probe: ProbeReport | null;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the child after this long (a hung run must not hang the bench). */
  timeoutMs?: number;
  /** Core to pin to (default 1, the client's core). */
  core?: 0 | 1;
}

let seq = 0;

/** Runs `node [--import probe] script args` pinned to the client's core and waits for it. */
export function runNode(script: string, args: string[], options: RunOptions = {}): Promise<Measured> {
  const probeOut = join(tmpdir(), `files-sync-bench-probe-${process.pid}-${++seq}.json`);
  const probe = pathToFileURL(benchScript('lib/probe.js')).href;
  return runCommand(
    process.execPath,
    ['--import', probe, script, ...args],
    { ...options, env: { ...process.env, ...options.env, BENCH_PROBE_OUT: probeOut } },
    probeOut,
  );
}

/** Runs any command pinned to the client's core (no probe unless `probeOut` is given). */
export function runCommand(cmd: string, args: string[], options: RunOptions = {}, probeOut?: string): Promise<Measured> {
  const [file, argv] = pinned(options.core ?? 1, cmd, args);
  return new Promise<Measured>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, argv, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      const wallMs = performance.now() - started;
      clearTimeout(timer);
      let probe: ProbeReport | null = null;
      if (probeOut) {
        try {
          probe = JSON.parse(readFileSync(probeOut, 'utf8')) as ProbeReport;
        } catch {
          probe = null;
        }
        rmSync(probeOut, { force: true });
      }
      resolve({
        wallMs,
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        probe,
      });
    });
  });
}

/** Fails with the child's output when it did not exit 0 (or one of `okCodes`). */
export function expectOk(m: Measured, what: string, okCodes: number[] = [0]): Measured {
  if (m.code === null || !okCodes.includes(m.code)) {
    throw new Error(`${what} exited ${m.code ?? m.signal}\n--- stdout\n${m.stdout.slice(-4000)}\n--- stderr\n${m.stderr.slice(-4000)}`);
  }
  return m;
}

/** Waits for a line matching `pattern` on a child's stdout. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(
      () => done(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got: ${buffer.slice(-2000)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const m = pattern.exec(buffer);
      if (m) done(undefined, m);
    };
    const onExit = (code: number | null) => done(new Error(`exited ${code} before printing ${pattern}; got: ${buffer.slice(-2000)}`));
    const done = (err?: Error, m?: RegExpExecArray) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
