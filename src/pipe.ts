// A closed pipe (`files-sync ls | head -1`) ends the output quietly: later writes are dropped and the
// command finishes with its own exit code, instead of Node's raw "write EPIPE" crash.
import type { Writable } from 'node:stream';

function quiet(stream: Writable & { write: (...args: never[]) => boolean }): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    // Whoever reads stopped reading: what is left to say has no reader.
    stream.write = (() => true) as typeof stream.write;
  });
}

/** Installs the quiet EPIPE handling on stdout and stderr (once, in the CLI's process). */
export function quietOnClosedPipe(): void {
  quiet(process.stdout);
  quiet(process.stderr);
}
