// An upload with `hash` hashes the bytes it sends (a large new file read once, issue 13): streamed,
// inline and given bodies, and retries that send, and hash, the file again. Real emulator over HTTP.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { client, emulator, tempDir } from '../helpers/client-fixtures.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `size` bytes that differ from chunk to chunk (a hash of only part of them would differ). */
function bytes(size: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
  return data;
}

describe('upload with hash', () => {
  it('returns the sha256 of what it streamed, equal to what the emulator stored; none without hash', async () => {
    const emu = await emulator();
    const c = client(emu.url);
    const dir = await tempDir();
    const data = bytes(3 * 1024 * 1024 + 17);
    const file = join(dir, 'big.bin');
    await writeFile(file, data);
    const hashed = await c.upload(file, { filename: 'big.bin', mimeType: 'application/octet-stream', hash: true });
    expect(hashed.sha256).toBe(sha(data));
    expect(emu.state().files.find((f) => f.id === hashed.file.id)?.sha256).toBe(sha(data));
    const plain = await c.upload(file, { filename: 'big.bin', mimeType: 'application/octet-stream' });
    expect(plain.sha256).toBeUndefined();
  });

  it('hashes a small file read at once, and bytes given as content', async () => {
    const emu = await emulator();
    const c = client(emu.url);
    const dir = await tempDir();
    const data = bytes(5000);
    const file = join(dir, 'small.bin');
    await writeFile(file, data);
    expect((await c.upload(file, { filename: 'small.bin', mimeType: 'application/octet-stream', hash: true })).sha256).toBe(sha(data));
    const given = await c.upload(file, { filename: 'small.bin', mimeType: 'application/octet-stream', hash: true, content: data });
    expect(given.sha256).toBe(sha(data));
  });

  it('retried attempts send and hash the file again: the stored attempt has the whole hash, once', async () => {
    const emu = await emulator({ faults: { count500: 2 } });
    const c = client(emu.url);
    const dir = await tempDir();
    const data = bytes(2 * 1024 * 1024 + 3);
    const file = join(dir, 'retried.bin');
    await writeFile(file, data);
    const result = await c.upload(file, { filename: 'retried.bin', mimeType: 'application/octet-stream', hash: true });
    expect(result.attempts).toBe(3);
    expect(result.sha256).toBe(sha(data));
    expect(emu.state().files.find((f) => f.id === result.file.id)?.sha256).toBe(sha(data));
  });
});
