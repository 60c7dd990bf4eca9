// files-sync run as a user runs it: `node dist/files-sync.js sync --config C --root R --state-dir S --json`
// with the emulator's URL and test key in the environment.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CLI, EMULATOR_KEY } from './env.js';
import { expectOk, runNode, type Measured } from './proc.js';

/** The parts of the sync report (`--json`) the bench reads. */
export interface SyncReportLite {
  /** ISO 8601, as `--json` prints them (src/commands/print-report.ts). */
  startedAt: string;
  finishedAt: string;
  uploaded: number;
  failed: { path: string; reason: string }[];
  unchanged: number;
  bytesUploaded: number;
  apiRequests: number;
  exitCode: number;
}

/** Writes a config file holding only `settings` (root and state dir come from the command line). */
export function writeConfig(file: string, settings: Record<string, unknown>): string {
  mkdirSync(dirname(file), { recursive: true });
  // Private whatever the umask: a config others can write is refused (it says where the key goes).
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  return file;
}

export interface SyncRun {
  measured: Measured;
  report: SyncReportLite;
}

/** One `files-sync sync`; fails unless it exits 0. `logDebug` adds JSON debug logs on stderr. */
export async function runSync(opts: {
  url: string;
  root: string;
  stateDir: string;
  config: string;
  logDebug?: boolean;
  timeoutMs?: number;
}): Promise<SyncRun> {
  const args = ['sync', '--config', opts.config, '--root', opts.root, '--state-dir', opts.stateDir, '--json'];
  if (opts.logDebug) args.push('--log-format', 'json', '--log-level', 'debug');
  const measured = expectOk(
    await runNode(CLI, args, {
      env: { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: opts.url },
      timeoutMs: opts.timeoutMs ?? 600_000,
    }),
    'files-sync sync',
  );
  const report = JSON.parse(measured.stdout) as SyncReportLite;
  return { measured, report };
}

/** The `walk done` debug line's counters (files hashed and bytes read to hash them) and time. */
export function walkCounters(stderr: string): { filesHashed: number; bytesHashed: number; at: number } | null {
  for (const line of stderr.split('\n')) {
    if (!line.includes('walk done')) continue;
    try {
      const entry = JSON.parse(line) as { filesHashed?: number; bytesHashed?: number; timestamp?: string };
      if (typeof entry.filesHashed === 'number' && typeof entry.bytesHashed === 'number') {
        return {
          filesHashed: entry.filesHashed,
          bytesHashed: entry.bytesHashed,
          at: Date.parse(entry.timestamp ?? ''),
        };
      }
    } catch {
      // not a JSON line
    }
  }
  return null;
}
