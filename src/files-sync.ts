#!/usr/bin/env node
// The files-sync command (package.json `bin`): the bundled program, loaded with its code cache
// (launch/load.ts), runs the command line.
import { fileURLToPath } from 'node:url';
import { loadProgram } from './launch/load.js';

loadProgram(fileURLToPath(new URL('./files-sync.cjs', import.meta.url))).program.runAsProgram();
