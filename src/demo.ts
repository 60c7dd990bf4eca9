// `npm run demo`: the emulator on a free loopback port, the sample folder synced by the CLI as a
// user runs it, then an edit, a delete and an addition synced again. No API key or network needed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EMULATOR_KEY, startEmulator, type Emulator } from './emulator/index.js';

const CLI = fileURLToPath(new URL('./files-sync.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../demo/sample', import.meta.url));

function heading(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

/** Runs the CLI as a user would, its output shown as it comes; resolves to the exit code. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  process.stdout.write(`$ files-sync ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function expectCode(run: Promise<number>, want = 0): Promise<void> {
  const code = await run;
  if (code !== want) throw new Error(`files-sync exited with ${code}, expected ${want}`);
}

function describeWorkspace(emulator: Emulator): void {
  const files = emulator.state().files;
  const ours = files.filter((f) => f.owner === 'self');
  process.stdout.write(
    `the workspace holds ${files.length} files: ${ours.length} synced from the folder, ${files.length - ours.length} of another application (untouched)\n`,
  );
}

async function main(): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'files-sync-demo-'));
  const emulator = await startEmulator({ apiKey: DEFAULT_EMULATOR_KEY });
  try {
    const root = path.join(work, 'folder');
    fs.cpSync(SAMPLE, root, { recursive: true, preserveTimestamps: true });
    const config = path.join(work, 'sync.config.json');
    // Private, whatever the umask: a config others can write is refused (it says where the key goes).
    fs.writeFileSync(config, JSON.stringify({ root, stateDir: path.join(work, 'state'), settleSeconds: 1 }, null, 2), { mode: 0o600 });
    const env = { ANTHROPIC_API_KEY: DEFAULT_EMULATOR_KEY, ANTHROPIC_BASE_URL: emulator.url };
    emulator.seed({
      filename: 'contract.pdf',
      content_base64: Buffer.from('%PDF-1.4 another app').toString('base64'),
      owner: 'another-application',
    });

    heading(`emulator listening on ${emulator.url}; syncing ${root}`);
    await expectCode(cli(['sync', '--config', config], env));
    heading('the path → file_id map applications use');
    await expectCode(cli(['ls', '--config', config], env));
    describeWorkspace(emulator);

    heading('edit notes/todo.txt, delete data/prices.csv, add notes/new-idea.md; sync again');
    fs.appendFileSync(path.join(root, 'notes', 'todo.txt'), '- try files-sync on the real API\n');
    fs.rmSync(path.join(root, 'data', 'prices.csv'));
    fs.writeFileSync(path.join(root, 'notes', 'new-idea.md'), '# New idea\n\nMirror the folder, reference files by id.\n');
    await expectCode(cli(['sync', '--dry-run', '--config', config], env));
    await expectCode(cli(['sync', '--config', config], env));
    await expectCode(cli(['ls', '--config', config], env));
    await expectCode(cli(['resolve', '--config', config, 'notes/new-idea.md'], env));
    describeWorkspace(emulator);

    heading('a sync with nothing to do makes one list request');
    await expectCode(cli(['sync', '--config', config], env));
    await expectCode(cli(['status', '--config', config], env));
    heading('demo done');
    return 0;
  } finally {
    await emulator.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
