// The V8 flags files-sync sets for itself, before anything runs (cli.ts imports this module first).
//
// How far the heap grows between full collections: files-sync is a service for small servers, and
// its live heap is flat (tens of MB whatever the tree's size), but V8's default lets the old
// generation grow to up to four times what survived the last full collection before it collects
// again, so a long pass (a million files) peaked ~60 MB above a short one of the same live size.
// At 1.5 times, a full collection of that live heap costs ~10 ms; a million-file pass makes ~100
// of them (BENCHMARKS.md, issue 13).
//
// WebAssembly compiled by Liftoff only: the one module files-sync runs is undici's HTTP parser
// (llhttp). Its large parsing function gets hot at the first answer, and V8 then compiles it
// again with TurboFan on a background thread, ~200 ms of a core that a short run waits for at its
// exit (V8 drains its background jobs first): a sync of an empty folder took ~800 ms from
// start to exit, ~550 ms with this flag. Liftoff is V8's first tier for WebAssembly, the code
// every module starts with; it parses the few header bytes of an answer a little slower, which
// measured within the noise on 10,000 uploads (BENCHMARKS.md, issue 13, the seventh pass).
import { setFlagsFromString } from 'node:v8';

/** The V8 flags files-sync sets, by name, with their values (true: a flag without a value). */
export const V8_FLAGS: Readonly<Record<string, string | true>> = Object.freeze({
  // Read at each full collection, so it takes effect when set at run time (unlike the semi-space size).
  'heap-growing-percent': '50',
  // Read when a WebAssembly module is compiled: undici compiles llhttp at its first connection.
  'liftoff-only': true,
});

/**
 * The flags to set: each of V8_FLAGS that the operator did not give on node's command line, in
 * either form (`--liftoff-only` or `--no-liftoff-only`: theirs wins; V8 accepts `_` for `-` in
 * flag names). NODE_OPTIONS cannot carry these flags: node refuses to start with one there.
 */
export function v8FlagsToSet(execArgv: readonly string[]): string[] {
  const given = execArgv.map((arg) =>
    arg
      .replace(/^--(no[-_]?)?/, '')
      .replace(/=.*$/, '')
      .replaceAll('_', '-'),
  );
  return Object.entries(V8_FLAGS)
    .filter(([name]) => !given.includes(name))
    .map(([name, value]) => (value === true ? `--${name}` : `--${name}=${value}`));
}

// At load, not from a function the CLI calls: imported first, this runs before the program's other
// modules. In the bundle (dist/files-sync.js) the packages left outside it load before any module
// of it (better-sqlite3's JavaScript, which allocates little, and undici's, which compiles no
// WebAssembly until its first connection); V8 reads the heap flag at each full collection, so it
// holds from the first one.
for (const flag of v8FlagsToSet(process.execArgv)) setFlagsFromString(flag);
