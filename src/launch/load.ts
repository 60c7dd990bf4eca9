// Loads the bundled program (dist/files-sync.cjs) with V8's code cache for it, when the build made
// one for these very bytes and the cache arrived whole.
//
// A command's fixed cost is mostly compiling: V8 parses the 1.5 MB bundle at load (~25 ms) and
// compiles each function the first time it runs. The code cache is that work done once, at build
// time (train.ts): the bytecode of every function a sync ran, which V8 takes instead of compiling
// again. It saved ~31 ms of a ~190 ms one-file sync (BENCHMARKS.md, issue 13, the tenth pass).
// Node 20 has no compile cache of its own for this (module.enableCompileCache came in 22), and its
// stable API gives V8's cache to scripts only (vm.Script): hence a CommonJS bundle, compiled here
// as node's loader would.
//
// V8 checks that a cache fits its version and flags, but of the source it checks only the length,
// and of its own data only a short header: bytecode cached for other bytes of the same length
// runs as if it were theirs, and damaged bytecode crashes the process or runs. So the cache file
// carries two SHA-256 digests (~2 ms to check): of the source compiled, and of V8's data. A cache
// that is absent, unreadable, made for other bytes, damaged or refused by V8 (another node, other
// V8 flags) costs the cache, never the program: it compiles as without one.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Script, constants } from 'node:vm';
import type { main, runAsProgram } from '../cli.js';
// The flags V8's cache must be made and read with: set before the compile below (v8-flags.ts).
import '../v8-flags.js';

/** What the bundle exports (src/cli.ts). */
export interface Program {
  main: typeof main;
  runAsProgram: typeof runAsProgram;
}

/**
 * What became of the code cache: used; refused by V8 (another node, other V8 flags); damaged; made
 * for another bundle; none; not tried because node was asked for source maps (its own loader maps
 * the bundle's stack traces, a compiled script would not).
 */
export type CacheUse = 'used' | 'rejected' | 'damaged' | 'other-build' | 'none' | 'source-maps';

/** A loaded program, with the compiled script its code cache is made from. */
export interface LoadedProgram {
  program: Program;
  cache: CacheUse;
  /** The code cache of everything compiled so far, with its header: what `train.ts` writes. */
  codeCache(): Buffer;
}

/** A cache file: this line, the SHA-256 of the source compiled, the SHA-256 of V8's data, V8's data. */
const MAGIC = Buffer.from('files-sync code cache 2\n');
const DIGEST_BYTES = 32;
const HEADER_BYTES = MAGIC.length + 2 * DIGEST_BYTES;

/** Node's CommonJS wrapper, as its loader puts it around a module's source. */
const WRAPPER_START = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_END = '\n});';

/** Where the code cache of `bundle` lives: beside it. */
export function codeCachePath(bundle: string): string {
  return `${bundle}.cache`;
}

function sha256(...parts: (string | Uint8Array)[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/**
 * Compiles and runs `bundle` as node's CommonJS loader would (its own `require`, `module`,
 * `__filename`), with its code cache unless `useCache` is false, and returns its exports.
 */
export function loadProgram(bundle: string, { useCache = true }: { useCache?: boolean } = {}): LoadedProgram {
  if (process.sourceMapsEnabled) {
    const program = createRequire(import.meta.url)(bundle) as Program;
    const codeCache = (): never => {
      throw new Error(`${bundle} was loaded by node's own loader (source maps asked for): it has no code cache to give`);
    };
    return { program, cache: 'source-maps', codeCache };
  }
  const bytes = readFileSync(bundle);
  const sourceDigest = sha256(WRAPPER_START, bytes, WRAPPER_END);
  const found = useCache ? cacheFor(bundle, sourceDigest) : { use: 'none' as const };
  const script = new Script(`${WRAPPER_START}${bytes.toString('utf8')}${WRAPPER_END}`, {
    filename: bundle,
    // An `import()` in the bundle resolves as in any module of the program (none today: rolldown
    // inlines them).
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    ...(found.data !== undefined ? { cachedData: found.data } : {}),
  });
  const cache: CacheUse = found.data === undefined ? found.use : script.cachedDataRejected === true ? 'rejected' : 'used';
  const module = { exports: {} as Program };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  return {
    program: module.exports,
    cache,
    codeCache: () => {
      const data = script.createCachedData();
      return Buffer.concat([MAGIC, sourceDigest, sha256(data), data]);
    },
  };
}

/** V8's data from `bundle`'s cache file if it was made for this source (`sourceDigest`) and is whole; else why not. */
function cacheFor(bundle: string, sourceDigest: Buffer): { use: CacheUse; data?: Buffer } {
  let file: Buffer;
  try {
    file = readFileSync(codeCachePath(bundle));
  } catch {
    return { use: 'none' }; // absent or unreadable: the program compiles as it always could
  }
  const dataDigestAt = MAGIC.length + DIGEST_BYTES;
  const forThisSource = file.subarray(0, MAGIC.length).equals(MAGIC) && file.subarray(MAGIC.length, dataDigestAt).equals(sourceDigest);
  if (!forThisSource) return { use: 'other-build' };
  const data = file.subarray(HEADER_BYTES);
  const whole = file.length > HEADER_BYTES && sha256(data).equals(file.subarray(dataDigestAt, HEADER_BYTES));
  return whole ? { use: 'used', data } : { use: 'damaged' };
}
