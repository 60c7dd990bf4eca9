// Loads the bundled program (dist/files-sync.cjs) with V8's code cache for it, when the build made
// one for these very bytes.
//
// A command's fixed cost is mostly compiling: V8 parses the 1.5 MB bundle at load (~25 ms) and
// compiles each function the first time it runs (~40 ms more in a sync). The code cache is that
// work done once, at build time (train.ts): the bytecode of every function a sync ran, which V8
// takes instead of compiling again. It saved ~35 ms of a 200 ms one-file sync and ~75 ms of a
// 3 s sync of 10,000 files (BENCHMARKS.md, issue 13, the tenth pass). Node 20 has no compile
// cache of its own for this (module.enableCompileCache came in 22), and V8 gives its cache to
// scripts only: hence a CommonJS bundle, compiled here as node's loader would.
//
// V8 checks that a cache fits its version and flags, but of the source it checks only the length:
// bytecode cached for other bytes of the same length would run as if it were theirs. So the cache
// file names the bundle it was made from by its SHA-256 (1 ms to check), and is used only for it.
// Any mismatch, damage or absence costs the cache, never the program: it compiles as without one.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Script } from 'node:vm';
// The flags V8's cache must be made and read with: set before the compile below (v8-flags.ts).
import '../v8-flags.js';

/** What the bundle exports (src/cli.ts). */
export interface Program {
  /** Runs the command line `argv` (without node and script); resolves to the exit code. */
  main(argv: string[], env?: NodeJS.ProcessEnv): Promise<number>;
  /** Runs `process.argv` as the files-sync command, and sets the process's exit code. */
  runAsProgram(): void;
}

/** What became of the code cache: used; refused by V8 (another node, other flags, damaged); not for this bundle; none. */
export type CacheUse = 'used' | 'rejected' | 'other-build' | 'none';

/** A loaded program, with the compiled script its code cache is made from. */
export interface LoadedProgram {
  program: Program;
  cache: CacheUse;
  /** The code cache of everything compiled so far, for this bundle: what `train.ts` writes. */
  codeCache(): Buffer;
}

/** The start of a cache file: the format, then the SHA-256 of the bundle it was made from. */
const MAGIC = Buffer.from('files-sync code cache 1\n');
const DIGEST_BYTES = 32;

/** Node's CommonJS wrapper, as its loader puts it around a module's source. */
const WRAPPER_START = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_END = '\n});';

/** Where the code cache of `bundle` lives: beside it. */
export function codeCachePath(bundle: string): string {
  return `${bundle}.cache`;
}

/**
 * Compiles and runs `bundle` as node's CommonJS loader would (its own `require`, `module`,
 * `__filename`), with its code cache unless `useCache` is false, and returns its exports.
 */
export function loadProgram(bundle: string, { useCache = true }: { useCache?: boolean } = {}): LoadedProgram {
  const bytes = readFileSync(bundle);
  const digest = createHash('sha256').update(bytes).digest();
  const found = useCache ? cacheFor(bundle, digest) : { use: 'none' as const };
  const script = new Script(`${WRAPPER_START}${bytes.toString('utf8')}${WRAPPER_END}`, {
    filename: bundle,
    ...(found.data !== undefined ? { cachedData: found.data } : {}),
  });
  const cache: CacheUse = found.data === undefined ? found.use : script.cachedDataRejected === true ? 'rejected' : 'used';
  const module = { exports: {} as Program };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  return {
    program: module.exports,
    cache,
    codeCache: () => Buffer.concat([MAGIC, digest, script.createCachedData()]),
  };
}

/** The V8 data of `bundle`'s cache file if it was made from these bytes (`digest`); else why not. */
function cacheFor(bundle: string, digest: Buffer): { use: CacheUse; data?: Buffer } {
  let file: Buffer;
  try {
    file = readFileSync(codeCachePath(bundle));
  } catch {
    return { use: 'none' }; // absent or unreadable: the program compiles as it always could
  }
  const header = MAGIC.length + DIGEST_BYTES;
  const mine = file.length > header && file.subarray(0, MAGIC.length).equals(MAGIC) && file.subarray(MAGIC.length, header).equals(digest);
  return mine ? { use: 'used', data: file.subarray(header) } : { use: 'other-build' };
}
