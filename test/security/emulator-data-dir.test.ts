// `files-sync emulator --data-dir DIR` adopts only an empty directory or its own (issue 8, item
// 6b): files it did not write are never deleted.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, tempDir, waitFor, type CliResult } from '../helpers/sync.js';

let dir: string;
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Starts the emulator on `dataDir`; stops it with SIGTERM once it listens (or lets it exit). */
async function runEmulator(dataDir: string): Promise<CliResult & { listened: boolean }> {
  const { child, done } = spawnCli(['emulator', '--port', '0', '--data-dir', dataDir]);
  let out = '';
  let exited = false;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  void done.then(() => (exited = true));
  await waitFor(() => out.includes('listening on') || exited, 'the emulator to listen or exit', 30_000);
  const listened = out.includes('listening on');
  if (listened) child.kill('SIGTERM');
  return { ...(await done), listened };
}

describe('the emulator data directory', () => {
  it('refuses a directory holding files it did not write, and deletes none of them', async () => {
    dir = tempDir('fs-emu-dir-');
    fs.mkdirSync(path.join(dir, 'tmp'));
    fs.mkdirSync(path.join(dir, 'content'));
    fs.writeFileSync(path.join(dir, 'tmp', 'precious.txt'), 'mine');
    fs.writeFileSync(path.join(dir, 'content', 'stray.bin'), 'mine too');
    const result = await runEmulator(dir);
    expect(result.listened).toBe(false);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(dir);
    expect(result.stderr).toMatch(/not empty|emulator's own/);
    expect(fs.readFileSync(path.join(dir, 'tmp', 'precious.txt'), 'utf8')).toBe('mine');
    expect(fs.readFileSync(path.join(dir, 'content', 'stray.bin'), 'utf8')).toBe('mine too');
  });

  it('adopts an empty directory, marks it, and opens it again', async () => {
    dir = tempDir('fs-emu-dir-');
    const first = await runEmulator(dir);
    expect(first.listened, first.stderr).toBe(true);
    expect(fs.existsSync(path.join(dir, '.files-sync-emulator'))).toBe(true);
    const second = await runEmulator(dir);
    expect(second.listened, second.stderr).toBe(true);
    expect(second.code, JSON.stringify(second)).toBe(0);
  });
});
