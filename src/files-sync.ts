#!/usr/bin/env node
// The files-sync command (package.json `bin`): the bundled program, loaded with its code cache
// (launch/load.ts), runs the command line.
import { fileURLToPath } from 'node:url';
import { loadProgram, type Program } from './launch/load.js';

const bundle = fileURLToPath(new URL('./files-sync.cjs', import.meta.url));
let program: Program | undefined;
try {
  program = loadProgram(bundle).program;
} catch (err) {
  // A missing or broken install: said in one line, with what to do, and exit 2 (cli.ts: usage,
  // config or install error, an operator's to fix), not 1 (a sync done with per-file failures).
  // A file that cannot be read or loaded says enough in its message; anything else (a throw while
  // the bundle ran its top level) is a defect, and its stack is what a report needs.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const missing = err instanceof Error && ('syscall' in err || code === 'MODULE_NOT_FOUND' || code === 'ERR_DLOPEN_FAILED');
  const reason = err instanceof Error ? (missing ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(
    `files-sync: cannot load the program from ${bundle}: ${reason}\nRebuild it (npm run build) or reinstall files-sync.\n`,
  );
  process.exitCode = 2;
}
program?.runAsProgram();
