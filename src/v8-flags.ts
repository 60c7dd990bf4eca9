// The V8 flags files-sync sets for itself (cli.ts imports this module first).
//
// WebAssembly compiled by Liftoff only, in every process: the one module files-sync runs is
// undici's HTTP parser (llhttp). Its large parsing function gets hot at the first answer, and V8
// then compiles it again with TurboFan on a background thread, ~200 ms of a core that a short run
// waits for at its exit (V8 drains its background jobs first): a sync of an empty folder took
// ~800 ms from start to exit, ~550 ms with this flag. Liftoff is V8's first tier for WebAssembly,
// the code every module starts with; it parses the few header bytes of an answer a little slower,
// which measured within the noise on 10,000 uploads (BENCHMARKS.md, issue 13, the seventh pass).
//
// The heap held near its live size in long work only: files-sync's live heap is flat (tens of MB
// whatever the tree's size), but V8's default lets the old generation grow to up to four times
// what survived the last full collection before it collects again, so a long pass (a million
// files) peaked ~60 MB above a short one of the same live size. Held at 1.5 times, a full
// collection of that live heap comes every ~200 ms of a pass and costs ~5 ms, and the emulator,
// waiting on the client meanwhile, idles: a sync of 10,000 small files made 14 of them against 4
// with V8's sizing, whose heap stayed under ~46 MB, and took ~7% longer (BENCHMARKS.md, issue 13,
// the ninth pass). So the processes that live long (the daemon, the emulator), `adopt`, and a
// sync whose ledger tracks many files hold the heap flat from their start (`holdHeapFlat`); every
// other command holds it once a look finds it past 64 MB (`watchHeap`).
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Flags = Readonly<Record<string, string | true>>;

/**
 * The V8 flags every files-sync process sets at start, by name, with their values (true: a flag
 * without a value). Both keep WebAssembly on Liftoff, read when a module is compiled (undici
 * compiles llhttp at its first connection): `liftoff-only` does on the V8 of Node 20 and 22, and
 * is no longer heeded once set at run time on Node 24's; a tier-up budget no short run reaches (it
 * counts bytes executed, ~2 GB a function: a daemon may reach it after days, and then pays the
 * background compile once, harmlessly) does on all three. They are one choice (WASM_TIERING_FLAGS): an
 * operator who gives either on node's command line decides for both.
 */
export const V8_FLAGS: Flags = Object.freeze({
  'liftoff-only': true,
  'wasm-tiering-budget': '2147483647',
});

/** Flags that are one choice: given one, the operator has decided the others too. */
const WASM_TIERING_FLAGS: readonly string[] = ['liftoff-only', 'wasm-tiering-budget', 'wasm-tier-up', 'wasm-dynamic-tiering', 'liftoff'];

/** The flags `holdHeapFlat` sets. */
export const FLAT_HEAP_FLAGS: Flags = Object.freeze({
  // Read at each full collection, so it takes effect when set at run time (unlike the semi-space size).
  'heap-growing-percent': '50',
});

/** A sync whose ledger tracks this many files holds the heap flat from its start (a long pass is coming). */
export const LONG_PASS_FILES = 50_000;

/** A heap that V8's own sizing lets grow past this many bytes is held flat from then on. */
export const FLAT_HEAP_PAST_BYTES = 64 * 1024 * 1024;

/** How often `watchHeap` looks at the heap's size (reading it costs a few microseconds). */
const WATCH_EVERY_MS = 250;

/**
 * The flags of `flags` to set: each one the operator did not give on node's command line, in
 * either form (`--liftoff-only` or `--no-liftoff-only`: theirs wins; V8 accepts `_` for `-` in
 * flag names), nor any flag of its choice (WASM_TIERING_FLAGS). NODE_OPTIONS cannot carry these
 * flags: node refuses to start with one there.
 */
export function v8FlagsToSet(execArgv: readonly string[], flags: Flags = V8_FLAGS): string[] {
  const given = execArgv.map((arg) =>
    arg
      .replace(/^--(no[-_]?)?/, '')
      .replace(/=.*$/, '')
      .replaceAll('_', '-'),
  );
  const decided = (name: string) =>
    given.includes(name) || (WASM_TIERING_FLAGS.includes(name) && given.some((flag) => WASM_TIERING_FLAGS.includes(flag)));
  return Object.entries(flags)
    .filter(([name]) => !decided(name))
    .map(([name, value]) => (value === true ? `--${name}` : `--${name}=${value}`));
}

let held = false;

/**
 * From now on, V8's heap grows only 1.5 times past its live size between full collections (once
 * per process). False when nothing changed: held already, or the operator chose the growth.
 */
export function holdHeapFlat(): boolean {
  if (held) return false;
  held = true;
  const flags = v8FlagsToSet(process.execArgv, FLAT_HEAP_FLAGS);
  for (const flag of flags) setFlagsFromString(flag);
  return flags.length > 0;
}

let watching = false;

/**
 * From now on, holds the heap flat at the first look that finds it past FLAT_HEAP_PAST_BYTES: a
 * timer that does not keep the process alive looks four times a second whenever the event loop
 * turns (reading a listing, walking, uploading), and stops once the heap is held. It then collects
 * at once: V8 sets the next limit at each full collection, and the one in force was set with its
 * own factor, up to four times the live size, which the heap would otherwise fill first.
 */
export function watchHeap(): void {
  if (held || watching) return;
  watching = true;
  const timer = setInterval(() => {
    if (!held && getHeapStatistics().used_heap_size > FLAT_HEAP_PAST_BYTES && holdHeapFlat()) collectNow();
    if (held) clearInterval(timer);
  }, WATCH_EVERY_MS);
  timer.unref();
}

/**
 * One full collection now, through V8's `gc` in a context of its own (the program's own global
 * gets none). Should a node not give it there, the new limit waits for V8's next collection.
 */
function collectNow(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('typeof gc === "function" ? gc : undefined') as (() => void) | undefined;
  gc?.();
}

/** Whether `holdHeapFlat` has run in this process. */
export function heapHeldFlat(): boolean {
  return held;
}

// At load, not from a function the CLI calls: imported first, this runs before the program's other
// modules. The command's loader (launch/load.ts) imports it too, before it compiles the bundle
// (dist/files-sync.cjs): V8's code cache is taken only under the flags it was made with.
for (const flag of v8FlagsToSet(process.execArgv)) setFlagsFromString(flag);
