// How far V8 lets the heap grow between full collections, set before anything runs (cli.ts imports
// this module first). files-sync is a service for small servers: its live heap is flat (tens of
// MB whatever the tree's size), but V8's default lets the old generation grow to up to four times
// what survived the last full collection before it collects again, so a long pass (a million
// files) peaked ~60 MB above a short one of the same live size. At 1.5 times, a full collection
// of that live heap costs ~10 ms; a million-file pass makes ~100 of them (BENCHMARKS.md, issue 13).
import { setFlagsFromString } from 'node:v8';

/** The V8 flags files-sync sets, by name, with their values. */
export const HEAP_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  // Read at each full collection, so it takes effect when set at run time (unlike the semi-space size).
  'heap-growing-percent': '50',
});

/**
 * The flags to set: each of HEAP_FLAGS that the operator did not give on node's command line
 * (theirs wins; V8 accepts `_` for `-` in flag names). NODE_OPTIONS cannot carry these flags:
 * node refuses to start with one there.
 */
export function heapFlagsToSet(execArgv: readonly string[]): string[] {
  const given = execArgv.map((arg) => arg.replace(/^--/, '').replace(/=.*$/, '').replaceAll('_', '-'));
  return Object.entries(HEAP_FLAGS)
    .filter(([name]) => !given.includes(name))
    .map(([name, value]) => `--${name}=${value}`);
}

// At load, not from a function the CLI calls: imported first, this runs before the program's other
// modules. In the bundle (dist/files-sync.js) the packages left outside it load before any module
// of it (better-sqlite3's JavaScript, which allocates little); V8 reads the flag at each full
// collection, so it holds from the first one.
for (const flag of heapFlagsToSet(process.execArgv)) setFlagsFromString(flag);
