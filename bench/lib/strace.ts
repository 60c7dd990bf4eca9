// System calls per file of one files-sync sync (`strace -f -c`, every thread): the futex count shows
// the thread-pool hand-offs, readlink/statx/openat/read/close the file-system work, pwrite64, fsync
// and fcntl the ledger's. Counts, unlike times, hold on a loaded machine.
import { readFileSync } from 'node:fs';
import { withEmulator } from './emulator.js';
import { CLI, EMULATOR_KEY } from './env.js';
import { expectOk, runCommand } from './proc.js';

/** One line of strace's summary table. */
export interface SyscallCount {
  name: string;
  calls: number;
  errors: number;
}

/** Parses `strace -c` output: `% time seconds usecs/call calls [errors] syscall`. */
export function parseStraceSummary(text: string): SyscallCount[] {
  const out: SyscallCount[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d/.test(f[0]!) || f.at(-1) === 'total') continue;
    const withErrors = f.length >= 6;
    out.push({ name: f.at(-1)!, calls: Number(f[3]), errors: withErrors ? Number(f[4]) : 0 });
  }
  return out.sort((a, b) => b.calls - a.calls);
}

/** Runs one sync of `root` under strace into `outFile` and returns the table per file as text. */
export async function straceCounts(o: { root: string; config: string; stateDir: string; files: number; outFile: string }): Promise<string> {
  await withEmulator({}, async (emu) =>
    expectOk(
      await runCommand(
        'strace',
        [
          '-f',
          '-c',
          '-o',
          o.outFile,
          process.execPath,
          CLI,
          'sync',
          '--config',
          o.config,
          '--root',
          o.root,
          '--state-dir',
          o.stateDir,
          '--json',
        ],
        {
          env: { ...process.env, ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: emu.url },
          timeoutMs: 900_000,
        },
      ),
      'strace files-sync sync',
    ),
  );
  const counts = parseStraceSummary(readFileSync(o.outFile, 'utf8'));
  const total = counts.reduce((a, c) => a + c.calls, 0);
  return [
    `system calls of the whole sync (strace -f -c, every thread; ${o.outFile}): ${total} in all, ${(total / o.files).toFixed(1)} per file`,
    '  per file   calls  errors  syscall',
    ...counts
      .slice(0, 16)
      .map(
        (c) =>
          `  ${(c.calls / o.files).toFixed(2).padStart(8)}  ${String(c.calls).padStart(7)}  ${String(c.errors).padStart(6)}  ${c.name}`,
      ),
  ].join('\n');
}
