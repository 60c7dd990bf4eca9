// The emulator's in-memory content: each small file keeps only its own bytes (the scale bench
// holds a million 1 KiB files in one emulator).
import { once } from 'node:events';
import { expect, it } from 'vitest';
import { MemoryBackend } from '../../src/emulator/backend-memory.js';

it('keeps a small upload in a buffer of its own, not in a slice of a shared pool slab', async () => {
  const backend = new MemoryBackend();
  const sink = backend.createSink();
  sink.write(Buffer.from('file 1\n'));
  sink.end(Buffer.alloc(1017, 'x'));
  await once(sink, 'finish');
  await sink.commit('file_1');
  const chunks: Buffer[] = [];
  for await (const chunk of backend.read('file_1')) chunks.push(chunk as Buffer);
  const stored = Buffer.concat(chunks);
  expect(stored.toString('latin1')).toBe(`file 1\n${'x'.repeat(1017)}`);
  // What the stored buffer keeps alive: its own 1 KiB, not an 8 KiB slab shared with garbage.
  expect(chunks).toHaveLength(1);
  expect(chunks[0]!.buffer.byteLength).toBe(1024);
});
