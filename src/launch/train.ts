// The build's last step (package.json "bundle"): makes dist/files-sync.cjs.cache, the code cache the
// command loads its bundle with (load.ts). It loads the bundle without a cache, runs what a user
// runs (a first sync, changes synced again, status, ls) against the emulator on loopback, then
// writes the bytecode of every function that ran. Checked afterwards: a fresh process must use it
// (if not, the cache is removed with a warning). A failed training fails the build.
//
// The cache holds V8's flags as they were when it was made: the training runs in a process of its
// own with NODE_OPTIONS cleared, so that it matches a plain `node dist/files-sync.js`. A process
// started with other V8 flags compiles as without a cache, and runs the same.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EMULATOR_KEY, startEmulator } from '../emulator/index.js';
import { codeCachePath, loadProgram, type Program } from './load.js';

const SELF = fileURLToPath(import.meta.url);
const BUNDLE = path.join(path.dirname(path.dirname(SELF)), 'files-sync.cjs');

/** A small folder of the kinds a sync meets: nested text, JSON, Markdown, binary, one file past the small-file size. */
function makeFolder(root: string): void {
  const hourAgo = new Date(Date.now() - 3600_000);
  for (let d = 0; d < 4; d++) {
    for (let f = 0; f < 50; f++) {
      const dir = path.join(root, `dir-${d}`, f % 2 === 0 ? 'even' : 'odd');
      fs.mkdirSync(dir, { recursive: true });
      const ext = ['txt', 'md', 'json', 'csv', 'bin'][f % 5]!;
      const file = path.join(dir, `file-${f}.${ext}`);
      fs.writeFileSync(file, ext === 'json' ? JSON.stringify({ d, f }) : `file ${d}/${f}\n`.repeat(20 + f));
      fs.utimesSync(file, hourAgo, hourAgo);
    }
  }
  const large = path.join(root, 'large.bin');
  fs.writeFileSync(large, Buffer.alloc(3 * 1024 * 1024, 7));
  fs.utimesSync(large, hourAgo, hourAgo);
}

/** Edits, deletes, adds and moves a few files, all settled. */
function changeFolder(root: string): void {
  const hourAgo = new Date(Date.now() - 3600_000);
  const edited = path.join(root, 'dir-0', 'even', 'file-0.txt');
  fs.appendFileSync(edited, 'edited\n');
  fs.rmSync(path.join(root, 'dir-1', 'odd', 'file-1.md'));
  fs.renameSync(path.join(root, 'dir-2', 'even', 'file-2.json'), path.join(root, 'dir-3', 'moved.json'));
  const added = path.join(root, 'dir-3', 'added.txt');
  fs.writeFileSync(added, 'added\n');
  for (const file of [edited, added, path.join(root, 'dir-3', 'moved.json')]) fs.utimesSync(file, hourAgo, hourAgo);
}

async function expectOk(program: Program, argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const code = await program.main(argv, env);
  if (code !== 0) throw new Error(`files-sync ${argv.join(' ')} exited with ${code}`);
}

/** In the training process: loads the bundle afresh, runs the commands, writes the cache. */
async function train(): Promise<void> {
  const loaded = loadProgram(BUNDLE, { useCache: false });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'files-sync-train-'));
  const emulator = await startEmulator({ apiKey: DEFAULT_EMULATOR_KEY });
  let partial: string | undefined;
  try {
    const root = path.join(work, 'folder');
    makeFolder(root);
    const config = path.join(work, 'sync.config.json');
    // The emulator has no rate limit to respect: the default pace (the API's) would take minutes.
    // Private, whatever the umask: a config others can write is refused (it says where the key goes).
    fs.writeFileSync(config, JSON.stringify({ root, stateDir: path.join(work, 'state'), requestsPerMinute: 100_000 }), { mode: 0o600 });
    const env = { ...process.env, ANTHROPIC_API_KEY: DEFAULT_EMULATOR_KEY, ANTHROPIC_BASE_URL: emulator.url };
    const withConfig = ['--config', config];
    await expectOk(loaded.program, ['sync', ...withConfig], env);
    changeFolder(root);
    await expectOk(loaded.program, ['sync', ...withConfig, '--json'], env);
    await expectOk(loaded.program, ['status', ...withConfig], env);
    await expectOk(loaded.program, ['ls', ...withConfig], env);
    const cache = codeCachePath(BUNDLE);
    // Written under a name of this process's own and renamed whole: never half a cache, and two
    // builds at once do not write into each other's file.
    partial = partialPath(process.pid);
    fs.writeFileSync(partial, loaded.codeCache());
    fs.renameSync(partial, cache);
  } finally {
    if (partial !== undefined) fs.rmSync(partial, { force: true });
    await emulator.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Where the training process `pid` writes the cache before renaming it. */
function partialPath(pid: number): string {
  return `${codeCachePath(BUNDLE)}.${pid}.partial`;
}

/** Runs this file again with `mode`, without NODE_OPTIONS; its output is kept, to show on failure. */
function runSelf(mode: string): { ok: boolean; stdout: string; said: string } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // ~1 s of work: two minutes is a hang, not a slow machine.
  const run = spawnSync(process.execPath, [SELF, mode], { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  // Killed (the timeout's SIGTERM) between its write and its rename, it leaves its partial file.
  if (run.pid) fs.rmSync(partialPath(run.pid), { force: true });
  const ended = run.signal !== null ? `killed by ${run.signal}` : `exit code ${run.status}`;
  const stdout = run.stdout ?? ''; // null when the process could not be started
  const output = `${stdout}${run.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
  const said = `${ended}${run.error ? ` (${run.error.message})` : ''}\n${output}`;
  return { ok: run.status === 0, stdout, said };
}

/** The build step: trains in a process of its own, then checks that a fresh process uses the cache. */
function build(): number {
  const cache = codeCachePath(BUNDLE);
  fs.rmSync(cache, { force: true }); // never left behind for a bundle it was not made from
  const trained = runSelf('--train');
  if (!trained.ok) {
    fs.rmSync(cache, { force: true });
    process.stderr.write(`could not make the code cache ${cache}:\n${trained.said}\n`);
    return 1;
  }
  // A cache this node refuses in a fresh process is a slower start, not a broken build: said, and
  // removed. (test/launch.test.ts fails on it, so the project's own CI does not let it pass.)
  const checked = runSelf('--check');
  if (!checked.ok || checked.stdout.trim() !== 'used') {
    fs.rmSync(cache, { force: true });
    process.stderr.write(
      `warning: the code cache made for ${BUNDLE} is not used by a fresh process (${checked.stdout.trim() || 'no answer'}), so the build has none: files-sync starts ~30 ms slower\n${checked.said}\n`,
    );
    return 0;
  }
  process.stdout.write(`code cache: ${path.relative(process.cwd(), cache)} (${Math.round(fs.statSync(cache).size / 1024)} KB)\n`);
  return 0;
}

const mode = process.argv[2];
if (mode === '--train') {
  await train();
  process.exit(0); // the program's keep-alive sockets and timers are not this step's to wait for
} else if (mode === '--check') {
  process.stdout.write(loadProgram(BUNDLE).cache);
} else {
  process.exitCode = build();
}
