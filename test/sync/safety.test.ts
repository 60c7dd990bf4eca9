// The rules that keep a sync safe, end to end: convergence under faults, a crash mid-upload, the
// delete guards, config errors, and the API key never leaking.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import {
  TEST_KEY,
  allOutputs,
  emulator,
  expectExactState,
  localHashes,
  requestsOf,
  runCli,
  spawnCli,
  syncSetup,
  tempDir,
  waitFor,
  writeTree,
  type SyncSetup,
} from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  setup = undefined;
  await emu?.close();
  emu = undefined;
});

function manyFiles(root: string, n: number): void {
  writeTree(
    root,
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`dir${i % 7}/file-${i}.txt`, `content of file ${i}\n`.repeat(1 + (i % 5))])),
  );
}

describe('faults', () => {
  it('converges to the exact state within three runs under 429/500/529, resets and lost answers', async () => {
    emu = await emulator({
      faults: {
        rate429: 0.05,
        rate500: 0.05,
        rate529: 0.05,
        resetMidUpload: 0.05,
        lostUploadAnswer: 0.05,
        retryAfterSeconds: 1,
        seed: 42,
      },
    });
    setup = syncSetup(emu, { concurrency: 8, requestsPerMinute: 100_000 });
    const foreign = emu.seed({
      filename: 'dir0∕file-0.txt',
      content_base64: Buffer.from('not ours').toString('base64'),
    });
    manyFiles(setup.root, 200);
    const codes: number[] = [];
    for (let run = 0; run < 3; run++) {
      const result = await setup.sync();
      codes.push(result.code ?? -1);
      if (result.code === 0) break;
    }
    expect(codes.at(-1), `exit codes of the runs: ${codes.join(', ')}`).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root), [foreign.id]);
    const faults = emu.state().faults;
    expect((faults['lost_answer'] ?? 0) + (faults['reset'] ?? 0)).toBeGreaterThan(0); // the faults really happened
  }, 180_000);
});

describe('crash', () => {
  it('after SIGKILL in the middle of uploads, the next run ends in the exact state', async () => {
    emu = await emulator({ faults: { latencyMs: 40 } });
    setup = syncSetup(emu, { concurrency: 4, requestsPerMinute: 100_000 });
    manyFiles(setup.root, 80);
    const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
    await waitFor(() => emu!.state().files.length >= 20, '20 uploads before the kill');
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    const stored = emu.state().files.length;
    expect(stored).toBeLessThan(80);
    emu.setFaults({});
    const again = await setup.sync();
    expect(again.code, again.stderr).toBe(0);
    expectExactState(emu, setup, localHashes(setup.root));
  }, 120_000);
});

describe('guards', () => {
  async function synced(files = 12, config: Record<string, unknown> = {}): Promise<SyncSetup> {
    emu = await emulator();
    setup = syncSetup(emu, config);
    manyFiles(setup.root, files);
    expect((await setup.sync()).code).toBe(0);
    emu.resetCounters();
    return setup;
  }

  it('the root moved away: nothing deleted, exit 3', async () => {
    const s = await synced();
    fs.renameSync(s.root, `${s.root}-moved`);
    const result = await s.sync();
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/root .* missing/);
    expect(requestsOf(emu!, 'DELETE /v1/files/{id}')).toBe(0);
  });

  it('the root emptied: nothing deleted, exit 3', async () => {
    const s = await synced();
    for (const entry of fs.readdirSync(s.root)) fs.rmSync(path.join(s.root, entry), { recursive: true });
    const result = await s.sync();
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/root is empty/);
    expect(requestsOf(emu!, 'DELETE /v1/files/{id}')).toBe(0);
  });

  it('the root marker missing: nothing deleted, exit 3', async () => {
    emu = await emulator();
    setup = syncSetup(emu, { rootMarker: '.files-sync-root' });
    manyFiles(setup.root, 5);
    fs.writeFileSync(path.join(setup.root, '.files-sync-root'), '');
    expect((await setup.sync()).code).toBe(0);
    fs.rmSync(path.join(setup.root, '.files-sync-root'));
    fs.rmSync(path.join(setup.root, 'dir1'), { recursive: true });
    emu.resetCounters();
    const result = await setup.sync();
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/marker/);
    expect(requestsOf(emu, 'DELETE /v1/files/{id}')).toBe(0);
  });

  it('deletes over maxCount are held and reported, and pass with --allow-mass-delete', async () => {
    const s = await synced(12, { deletes: { maxCount: 3 } });
    for (let i = 0; i < 5; i++) fs.rmSync(path.join(s.root, `dir${i % 7}/file-${i}.txt`));
    const held = await s.sync();
    expect(held.code).toBe(3);
    expect(held.stdout).toMatch(/held: 5 deletes/);
    expect(held.stdout).toMatch(/--allow-mass-delete/);
    expect(requestsOf(emu!, 'DELETE /v1/files/{id}')).toBe(0);
    const status = JSON.parse((await runCli(['status', '--config', s.configFile, '--json'], s.env)).stdout) as {
      held: { count: number };
    };
    expect(status.held.count).toBe(5);
    const allowed = await s.sync(['--allow-mass-delete']);
    expect(allowed.code).toBe(0);
    expect(requestsOf(emu!, 'DELETE /v1/files/{id}')).toBe(5);
    expectExactState(emu!, s, localHashes(s.root));
  });

  it('deletes over maxShare are held', async () => {
    const s = await synced(12, { deletes: { maxShare: 0.25 } });
    for (let i = 0; i < 4; i++) fs.rmSync(path.join(s.root, `dir${i % 7}/file-${i}.txt`));
    const held = await s.sync();
    expect(held.code).toBe(3);
    expect(held.stdout).toMatch(/maxShare/);
  });
});

describe('bad config', () => {
  let dir: string;
  const cases: [string, (d: string) => { args: string[]; env?: NodeJS.ProcessEnv }, RegExp][] = [
    ['no root', (d) => ({ args: ['--config', write(d, { stateDir: 's' })] }), /"root" is missing/],
    ['a folder named as the config', (d) => ({ args: ['--config', d] }), /config .* is not a regular file/],
    ['invalid JSON', (d) => ({ args: ['--config', write(d, '{"root": ')] }), /not valid JSON/],
    ['an unknown key', (d) => ({ args: ['--config', write(d, { root: rootOf(d), concurrenzy: 3 })] }), /unknown key "concurrenzy"/],
    ['a wrong type', (d) => ({ args: ['--config', write(d, { root: rootOf(d), followSymlinks: 'yes' })] }), /followSymlinks/],
    ['no API key', (d) => ({ args: ['--config', write(d, { root: rootOf(d) })], env: { ANTHROPIC_API_KEY: '' } }), /no API key/],
    ['an unknown option', (d) => ({ args: ['--config', write(d, { root: rootOf(d) }), '--frobnicate'] }), /frobnicate/],
    [
      'a key file others can read',
      (d) => {
        const keyFile = path.join(d, 'key');
        fs.writeFileSync(keyFile, TEST_KEY, { mode: 0o644 });
        fs.chmodSync(keyFile, 0o644);
        return { args: ['--config', write(d, { root: rootOf(d), api: { keyFile } })], env: { ANTHROPIC_API_KEY: '' } };
      },
      /chmod 600/,
    ],
  ];
  /** The root: a folder beside the config (one inside it is refused for itself). */
  function rootOf(d: string): string {
    const root = path.join(d, 'data');
    fs.mkdirSync(root, { recursive: true });
    return root;
  }
  function write(d: string, content: unknown): string {
    const file = path.join(d, `config-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }
  for (const [what, make, message] of cases) {
    it(`${what}: exit 2 and one line that names it`, async () => {
      dir = tempDir('fs-badcfg-');
      try {
        const { args, env } = make(dir);
        const result = await runCli(['sync', ...args, '--state-dir', path.join(dir, 'state')], {
          ANTHROPIC_API_KEY: TEST_KEY,
          ...env,
        });
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(message);
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
        expect(result.stdout).toBe('');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a refused key: exit 4 with a line that says so', async () => {
    emu = await emulator();
    setup = syncSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a' });
    const result = await runCli(['sync', '--config', setup.configFile], {
      ANTHROPIC_API_KEY: 'sk-ant-wrong-key-123456789',
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/key/i);
    expect(result.stderr).not.toContain('sk-ant-wrong-key-123456789');
  });

  it('an unreachable API: exit 5', async () => {
    emu = await emulator();
    const url = emu.url;
    await emu.close();
    emu = undefined;
    const dir = tempDir('fs-down-');
    try {
      fs.mkdirSync(path.join(dir, 'root'));
      fs.writeFileSync(path.join(dir, 'root', 'a.txt'), 'a');
      const result = await runCli(['sync', '--root', path.join(dir, 'root'), '--state-dir', path.join(dir, 'state')], {
        ANTHROPIC_API_KEY: TEST_KEY,
        ANTHROPIC_BASE_URL: url,
      });
      expect(result.code).toBe(5);
      expect(result.stderr).toMatch(/unavailable|unreachable|connect/i);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

afterAll(() => {
  // The key never appears in anything the CLI printed during this file's runs.
  for (const output of allOutputs) expect(output).not.toContain(TEST_KEY);
});
