// The command's loader (src/launch/load.ts) and the code cache the build makes for its bundle
// (src/launch/train.ts): used for the bundle's very bytes; never for other bytes, even of the same
// length (V8 itself checks only the length), nor when damaged (V8 checks only its header: damaged
// bytecode crashed node or ran); a cache refused or missing costs the cache, not the program.
// Each case loads a bundle in a fresh node process, as the command does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '..');
const DIST = path.join(REPO, 'dist');
const BUNDLE = path.join(DIST, 'files-sync.cjs');
const LOAD = pathToFileURL(path.join(DIST, 'launch', 'load.js')).href;

/** A line of `--help` (cli.ts FOOTER), and the same line changed without changing its length. */
const HELP_LINE = 'Exit codes: 0 done, 1 done';
const CHANGED_LINE = 'Exit codes: 0 DONE, 1 DONE';

/** A cache file's header (load.ts): its format line, the source's SHA-256, then V8's data's. */
const CACHE_HEADER_BYTES = Buffer.byteLength('files-sync code cache 2\n') + 2 * 32;

interface Loaded {
  cache: string;
  /** Whether the program's functions run in strict mode (a strict function's `caller` throws). */
  strict: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Loads `bundle` in a fresh process (no NODE_OPTIONS; `nodeArgs` given to node), says how its cache was taken, then runs `argv`. */
function load(bundle: string, argv: string[], nodeArgs: string[] = []): Loaded {
  const script = `
    const { loadProgram } = await import(${JSON.stringify(LOAD)});
    const loaded = loadProgram(${JSON.stringify(bundle)});
    let strict = false;
    try { void loaded.program.reportFatal.caller; } catch { strict = true; }
    process.stderr.write('cache: ' + loaded.cache + ' strict: ' + strict + '\\n');
    process.exitCode = await loaded.program.main(${JSON.stringify(argv)});`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const run = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 30_000 });
  const said = /^cache: (\S+) strict: (\S+)$/m.exec(run.stderr);
  const cache = said?.[1] ?? `(none said; status ${run.status}, signal ${run.signal}; stderr: ${run.stderr})`;
  return { cache, strict: said?.[2] === 'true', code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The built cache with `count` bytes of V8's data from `at` (past the header) flipped. */
function damagedCache(at: number, count = 16): Buffer {
  const cache = Buffer.from(fs.readFileSync(`${BUNDLE}.cache`));
  const from = CACHE_HEADER_BYTES + at;
  expect(cache.length).toBeGreaterThan(from + count); // else nothing would be flipped
  for (let i = from; i < from + count; i++) cache[i] = cache[i]! ^ 0xff;
  return cache;
}

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A copy of the built bundle in a folder of its own (`dist/` beside package.json and node_modules), with `cache` beside it. */
function copyOfBundle(edit: (source: string) => string, cache: Buffer | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'files-sync-launch-'));
  temps.push(dir);
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  const bundle = path.join(dir, 'dist', 'files-sync.cjs');
  fs.writeFileSync(bundle, edit(fs.readFileSync(BUNDLE, 'utf8')));
  if (cache) fs.writeFileSync(`${bundle}.cache`, cache);
  return bundle;
}

describe('the code cache of the bundle', () => {
  it('is used by a fresh process for the bundle the build made it for, which runs in strict mode', () => {
    const run = load(BUNDLE, ['--version']);
    expect(run.cache).toBe('used');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // As the ES module bundle before it: a write to a frozen object throws, not nothing.
    expect(run.strict).toBe(true);
  });

  it('is used for the same bytes at another path (an installed copy)', () => {
    const bundle = copyOfBundle((source) => source, fs.readFileSync(`${BUNDLE}.cache`));
    const run = load(bundle, ['--help']);
    expect(run.cache).toBe('used');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(HELP_LINE);
  });

  it('is not used for a bundle of other bytes of the same length: the program runs those bytes', () => {
    const original = fs.readFileSync(BUNDLE, 'utf8');
    expect(original).toContain(HELP_LINE);
    const bundle = copyOfBundle((source) => source.replace(HELP_LINE, CHANGED_LINE), fs.readFileSync(`${BUNDLE}.cache`));
    expect(fs.statSync(bundle).size).toBe(fs.statSync(BUNDLE).size);
    const run = load(bundle, ['--help']);
    expect(run.cache).toBe('other-build');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(CHANGED_LINE);
    expect(run.stdout).not.toContain(HELP_LINE);
  });

  // Bytes flipped in V8's own header, near its start, and deep in the bytecode: without the
  // digest of the data, the last two crashed node (exit 133) or ran (V8 took them).
  it('is refused when cut short (its header whole, no data), and the program runs without it', () => {
    const bundle = copyOfBundle((source) => source, fs.readFileSync(`${BUNDLE}.cache`).subarray(0, CACHE_HEADER_BYTES));
    const run = load(bundle, ['--version']);
    expect(run.cache).toBe('damaged');
    expect(run.code).toBe(0);
  });

  it.each([0, 100, 300_000])('is refused when damaged (16 bytes at %i of its data), and the program runs without it', (at) => {
    const bundle = copyOfBundle((source) => source, damagedCache(at));
    const run = load(bundle, ['--help']);
    expect(run.cache).toBe('damaged');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(HELP_LINE);
  });

  it('is refused by V8 in a process started with other V8 flags, and the program runs without it', () => {
    const run = load(BUNDLE, ['--version'], ['--no-liftoff-only']);
    expect(run.cache).toBe('rejected');
    expect(run.code).toBe(0);
  });

  it('is not tried when node maps stack traces (--enable-source-maps): node loads the bundle itself', () => {
    const run = load(BUNDLE, ['--version'], ['--enable-source-maps']);
    expect(run.cache).toBe('source-maps');
    expect(run.code).toBe(0);
    expect(run.strict).toBe(true);
  });

  it('is not needed: without one the program compiles and runs', () => {
    const bundle = copyOfBundle((source) => source, null);
    const run = load(bundle, ['--help']);
    expect(run.cache).toBe('none');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(HELP_LINE);
  });
});

describe('the training of the code cache (the build)', () => {
  it('runs under any umask: the config it writes is private, not refused as one others can write', () => {
    // umask 000 (some containers and CI images): a config written with the default mode is 0666,
    // which every command refuses (rule 9), so the build failed. The cache is written whole and
    // renamed, so the one the other cases use is replaced by one of the same bundle.
    const train = path.join(DIST, 'launch', 'train.js');
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const run = spawnSync('sh', ['-c', 'umask 000 && exec "$0" "$1" --train', process.execPath, train], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
  });
});

describe('the files-sync command without its bundle', () => {
  it('says it cannot load the program and what to do, and exits 2', () => {
    const bundle = copyOfBundle((source) => source, null);
    const dist = path.dirname(bundle);
    fs.rmSync(bundle);
    // The command as installed: its entry, the loader and the flags module, beside no bundle.
    fs.copyFileSync(path.join(DIST, 'files-sync.js'), path.join(dist, 'files-sync.js'));
    fs.mkdirSync(path.join(dist, 'launch'));
    fs.copyFileSync(path.join(DIST, 'launch', 'load.js'), path.join(dist, 'launch', 'load.js'));
    fs.copyFileSync(path.join(DIST, 'v8-flags.js'), path.join(dist, 'v8-flags.js'));
    const run = spawnSync(process.execPath, [path.join(dist, 'files-sync.js'), '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`files-sync: cannot load the program from ${bundle}`);
    expect(run.stderr).toContain('npm run build');
    expect(run.stderr).not.toMatch(/^\s+at /m); // a file system error: its message, no stack
  });
});
