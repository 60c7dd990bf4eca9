// Reads stay inside the root (DESIGN.md rule 8), end to end: a writer of the folder swaps a file
// for a symlink to a secret between the walk and the upload (one-shot, in-process with the real
// executor and client; and the daemon as a child process), or swaps a parent directory with
// renameat2(RENAME_EXCHANGE) in a loop while sync runs. The emulator's inspection must never
// show the secret's bytes, and no run may report the file uploaded.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/client.js';
import { reconcile } from '../../src/sync/reconcile.js';
import { daemonSetup, startDaemon } from '../helpers/daemon.js';
import { TEST_KEY, emulator, sha256, tempDir, waitFor, beforeFirstUpload } from '../helpers/sync.js';
import { compileExchange } from '../helpers/exchange.js';

const UPLOADS = 'POST /v1/files';

let emu: Emulator;
let dir: string;
let root: string;
let secret: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(async () => {
  emu = await emulator();
  dir = fs.realpathSync(tempDir('fs-reads-'));
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
  fs.mkdirSync(path.join(dir, 'outside'));
  secret = path.join(dir, 'outside', 'secret.txt');
});
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The emulator's stored files whose content is one of `shas` (none may exist). */
function storedWith(shas: Set<string>): string[] {
  return emu
    .state()
    .files.filter((f) => shas.has(f.sha256))
    .map((f) => f.filename);
}

/** `ln -s target root/.swap && mv -T root/.swap root/name`: an atomic swap of a file for a link. */
function swapForLink(name: string, target: string): void {
  fs.symlinkSync(target, path.join(root, '.swap'));
  fs.renameSync(path.join(root, '.swap'), path.join(root, name));
}

/** A decoy made to look like the secret to a size-and-mtime check: same size, same mtime. */
function decoyLike(secretContent: string, name = 'decoy.txt'): void {
  fs.writeFileSync(secret, secretContent);
  fs.writeFileSync(path.join(root, name), 'd'.repeat(Buffer.byteLength(secretContent)));
  const past = new Date(Date.now() - 3_600_000);
  fs.utimesSync(secret, past, past);
  fs.utimesSync(path.join(root, name), past, past);
}

function openLedger(name = 'state'): Ledger {
  const ledger = Ledger.open(path.join(dir, name, 'ledger.db'));
  cleanups.push(() => ledger.close());
  return ledger;
}

function client(): FilesClient {
  const c = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY, requestsPerMinute: 100_000 });
  cleanups.push(() => c.close());
  return c;
}

function config(stateDir = 'state'): Config {
  return { ...loadConfig({ root, stateDir: path.join(dir, stateDir) }, {}, dir), settleSeconds: 0 };
}

describe('a file swapped for a symlink between the walk and the upload', () => {
  it('one-shot, sent from the bytes the walk kept: the re-read after the change never follows the link', async () => {
    const secretContent = 'TOP SECRET: the service API key file';
    fs.writeFileSync(secret, secretContent);
    fs.writeFileSync(path.join(root, 'decoy.txt'), 'an innocent decoy');
    const remote = beforeFirstUpload(client(), () => swapForLink('decoy.txt', secret));
    const report = await reconcile({ config: config(), ledger: openLedger(), remote, logger: silentLogger() });
    expect(storedWith(new Set([sha256(secretContent)]))).toEqual([]);
    expect(report.uploaded).toBe(0);
  });

  it('one-shot, read from disk at upload time (a decoy as large as the secret, same mtime): nothing outside is sent', async () => {
    const secretContent = `TOP SECRET ${'s'.repeat(200_000)}`; // over what the walk keeps in memory
    decoyLike(secretContent);
    const remote = beforeFirstUpload(client(), () => swapForLink('decoy.txt', secret));
    const report = await reconcile({ config: config(), ledger: openLedger(), remote, logger: silentLogger() });
    expect(storedWith(new Set([sha256(secretContent)]))).toEqual([]);
    expect(report.uploaded).toBe(0);
  });

  it('daemon: swapped while the upload waits to retry a 429; the retry sends nothing from outside', async () => {
    const setup = daemonSetup(emu, { root, stateDir: path.join(dir, 'daemon-state') });
    cleanups.push(() => setup.cleanup());
    const daemon = await startDaemon(setup);
    cleanups.push(async () => void (daemon.child.exitCode === null && (await daemon.stop())));
    emu.setFaults({ count429: 1, retryAfterSeconds: 2 });
    const secretContent = 'TOP SECRET for the daemon';
    decoyLike(secretContent);
    // The first attempt was answered 429: the client waits 2 s, then opens the file again.
    await waitFor(() => (emu.state().requests[UPLOADS]?.['429'] ?? 0) > 0, 'the first upload attempt', 30_000);
    swapForLink('decoy.txt', secret);
    const line = await daemon.waitForLine(/(upload failed|uploaded).*decoy\.txt/, 30_000);
    expect(storedWith(new Set([sha256(secretContent)]))).toEqual([]);
    expect(line).toMatch(/upload failed/);
  });
});

/** Stops `swapper` (SIGSTOP) at a moment `sub` is the real folder, not the link. */
async function stoppedInPlace(swapper: ChildProcess, sub: string): Promise<void> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    swapper.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 5)); // the signal is delivered; a rename in progress ends
    if (fs.lstatSync(sub).isDirectory()) return;
    swapper.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`${sub} never caught in place`);
}

describe('a parent directory swapped with RENAME_EXCHANGE while sync runs', () => {
  it('no run ever uploads a byte from outside the root', async (ctx) => {
    const exchange = compileExchange(dir);
    if (exchange === undefined) {
      ctx.skip('needs Linux and a C compiler (cc) to build the renameat2(RENAME_EXCHANGE) helper');
      return;
    }
    // root/sub is a real folder; dir/alt a link to a folder of secrets with the same names.
    const secrets = new Set<string>();
    const insides = new Set<string>();
    fs.mkdirSync(path.join(root, 'sub'));
    for (let i = 0; i < 40; i++) {
      const name = `f${String(i).padStart(2, '0')}.txt`;
      fs.writeFileSync(path.join(root, 'sub', name), `inside ${name}`);
      insides.add(sha256(`inside ${name}`));
      const content = `SECRET ${name}`;
      fs.writeFileSync(path.join(dir, 'outside', name), content);
      secrets.add(sha256(content));
    }
    fs.symlinkSync(path.join(dir, 'outside'), path.join(dir, 'alt'));
    const swapper: ChildProcess = spawn(exchange, [path.join(root, 'sub'), path.join(dir, 'alt')], { stdio: 'ignore' });
    const exited = new Promise((resolve) => swapper.on('exit', resolve));
    cleanups.push(async () => {
      if (swapper.exitCode === null) swapper.kill('SIGKILL');
      await exited;
    });
    const remote = client();
    // At least 10 runs, and on until one caught the folder in place (the swapper flips it so fast
    // that a run often finds `sub` a link at the root's listing, and takes nothing from it).
    for (let run = 0; run < 10 || (run < 40 && storedWith(insides).length === 0); run++) {
      // A fresh ledger each run: every file is new, so every run opens every file again.
      const ledger = openLedger(`state-${run}`);
      await reconcile({
        config: config(`state-${run}`),
        ledger,
        remote,
        logger: silentLogger(),
        signal: AbortSignal.timeout(30_000),
      });
      expect(storedWith(secrets), `run ${run}`).toEqual([]);
    }
    expect(swapper.exitCode, 'the swapper ran the whole time').toBeNull();
    // Not vacuous: the inside files are read and uploaded when the folder is in place. On a loaded
    // machine 40 runs may all have met the link; then one more runs with the swapper stopped while
    // the folder is in place.
    if (storedWith(insides).length === 0) {
      await stoppedInPlace(swapper, path.join(root, 'sub'));
      try {
        await reconcile({ config: config('state-in-place'), ledger: openLedger('state-in-place'), remote, logger: silentLogger() });
      } finally {
        swapper.kill('SIGCONT');
      }
    }
    expect(storedWith(secrets)).toEqual([]);
    expect(storedWith(insides).length).toBeGreaterThan(0);
  }, 180_000);
});
