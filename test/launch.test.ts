// The command's loader (src/launch/load.ts) and the code cache the build makes for its bundle
// (src/launch/train.ts): used for the bundle's very bytes; never for other bytes, even of the same
// length (V8 itself checks only the length); a damaged or missing cache costs the cache, not the
// program. Each case loads a bundle in a fresh node process, as the command does.
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

/** Loads `bundle` in a fresh process (no NODE_OPTIONS), says how its cache was taken, then runs `argv`. */
function load(bundle: string, argv: string[]): { cache: string; code: number | null; stdout: string; stderr: string } {
  const script = `
    const { loadProgram } = await import(${JSON.stringify(LOAD)});
    const loaded = loadProgram(${JSON.stringify(bundle)});
    process.stderr.write('cache: ' + loaded.cache + '\\n');
    process.exitCode = await loaded.program.main(${JSON.stringify(argv)});`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 60_000 });
  const cache = /^cache: (\S+)$/m.exec(run.stderr)?.[1] ?? `(none said; stderr: ${run.stderr})`;
  return { cache, code: run.status, stdout: run.stdout, stderr: run.stderr };
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
  it('is used by a fresh process for the bundle the build made it for, which runs', () => {
    const run = load(BUNDLE, ['--version']);
    expect(run.cache).toBe('used');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
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

  it('is refused when damaged, and the program runs without it', () => {
    const cache = fs.readFileSync(`${BUNDLE}.cache`);
    // The header (format and the bundle's digest) kept; V8's data after it overwritten.
    const header = Buffer.byteLength('files-sync code cache 1\n') + 32;
    const damaged = Buffer.concat([cache.subarray(0, header), Buffer.alloc(cache.length - header, 0x5a)]);
    const bundle = copyOfBundle((source) => source, damaged);
    const run = load(bundle, ['--version']);
    expect(run.cache).toBe('rejected');
    expect(run.code).toBe(0);
  });

  it('is not needed: without one the program compiles and runs', () => {
    const bundle = copyOfBundle((source) => source, null);
    const run = load(bundle, ['--help']);
    expect(run.cache).toBe('none');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(HELP_LINE);
  });
});
