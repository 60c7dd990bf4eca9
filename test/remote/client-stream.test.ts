// Uploads are streamed from disk: a 300 MB file goes through without the process holding it.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { client, emulator, tempDir } from '../helpers/client-fixtures.js';

const SIZE = 300 * 1024 * 1024;

/** sha256 of `size` zero bytes (the content of a sparse file), without allocating them. */
function zerosSha256(size: number): string {
  const hash = createHash('sha256');
  const block = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= block.length) hash.update(left >= block.length ? block : block.subarray(0, left));
  return hash.digest('hex');
}

it('uploads a 300 MB sparse file with RSS growth under 100 MB', async () => {
  const dir = await tempDir();
  // The emulator stores content on disk (dataDir), so it holds no copy in this process either.
  const emu = await emulator({ dataDir: join(dir, 'emulator') });
  const path = join(dir, 'big.bin');
  const handle = await open(path, 'w');
  await handle.truncate(SIZE); // sparse: nothing is written
  await handle.close();
  const c = client(emu.url);

  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  let result;
  try {
    result = await c.upload(path, { filename: 'big.bin', mimeType: 'application/octet-stream' });
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage.rss());

  expect(result.file.size_bytes).toBe(SIZE);
  expect(result.attempts).toBe(1);
  const growthMb = (peak - baseline) / 1024 / 1024;
  expect(growthMb).toBeLessThan(100);
  const stored = emu.state().files.find((f) => f.id === result.file.id);
  expect(stored?.sha256).toBe(zerosSha256(SIZE));
}, 60_000);
