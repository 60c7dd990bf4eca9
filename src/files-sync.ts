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
  // A missing or broken build: said in one line, with what to do, and exit 2 (cli.ts: usage or
  // config error, an operator's to fix), not 1 (a sync done with per-file failures).
  // A file system error says enough in its message; anything else (a throw while the bundle ran
  // its top level) is a defect, and its stack is what a report needs.
  const fsError = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
  const reason = err instanceof Error ? (fsError ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(
    `files-sync: cannot load the program from ${bundle}: ${reason}\nRebuild it (npm run build) or reinstall files-sync.\n`,
  );
  process.exitCode = 2;
}
program?.runAsProgram();
