// The upload body framed by hand (src/remote/multipart.ts): every size around the inline/stream
// threshold arrives intact with its name and type; non-files and vanished files are local errors.
import { createHash } from 'node:crypto';
import { mkdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { framable, roomyWindow } from '../../src/framing-room.js';
import { INLINE_MAX_BYTES, STREAM_CHUNK_BYTES, multipartBody, multipartOf } from '../../src/remote/multipart.js';
import { LocalFileError } from '../../src/remote/index.js';
import { client, emulator, tempDir } from '../helpers/client-fixtures.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('upload bodies', () => {
  it.each([0, 1, 4096, INLINE_MAX_BYTES, INLINE_MAX_BYTES + 1, 3 * STREAM_CHUNK_BYTES + 5 + INLINE_MAX_BYTES])(
    'a file of %i bytes arrives byte for byte',
    async (size) => {
      const dir = await tempDir();
      const emu = await emulator();
      const content = Buffer.alloc(size);
      for (let i = 0; i < size; i++) content[i] = (i * 31 + 7) & 0xff;
      const path = join(dir, 'f.bin');
      await writeFile(path, content);
      const result = await client(emu.url).upload(path, { filename: 'docs∕é ü 名前.bin', mimeType: 'application/pdf' });
      expect(result.file).toMatchObject({
        size_bytes: size,
        filename: 'docs∕é ü 名前.bin',
        mime_type: 'application/pdf',
      });
      expect(emu.state().files.find((f) => f.id === result.file.id)?.sha256).toBe(sha256(content));
    },
  );

  it('declares the exact length and a boundary absent from the framing', async () => {
    const dir = await tempDir();
    const path = join(dir, 'a.txt');
    await writeFile(path, 'hello');
    const built = await multipartBody(path, 'a "b"\r\n.txt', 'text/plain');
    const body = built.body as Buffer;
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(Number(built.headers['content-length'])).toBe(body.length);
    const boundary = /boundary=(\S+)$/.exec(built.headers['content-type']!)?.[1];
    expect(body.toString('utf8')).toBe(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a %22b%22%0D%0A.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
    );
  });

  it('frames bytes in memory in one buffer of the exact length, a UTF-8 name included', () => {
    const content = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]);
    const built = multipartOf(content, 'é 名前 "q".bin', 'application/octet-stream');
    const body = built.body as Buffer;
    expect(Number(built.headers['content-length'])).toBe(body.length);
    const boundary = /boundary=(\S+)$/.exec(built.headers['content-type']!)?.[1];
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="é 名前 %22q%22.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    expect(body.equals(Buffer.concat([Buffer.from(head, 'utf8'), content, Buffer.from(`\r\n--${boundary}--\r\n`)]))).toBe(true);
    expect(built.fileSize).toBe(content.length);
  });

  it('frames bytes read with room around them in place, the same bytes as a copy, and copies any other buffer', () => {
    const file = Buffer.from('the file, 4 KiB or so');
    const expected = (built: ReturnType<typeof multipartOf>) => {
      const boundary = /boundary=(\S+)$/.exec(built.headers['content-type']!)?.[1];
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="d/a.txt"\r\nContent-Type: text/plain\r\n\r\n`;
      return Buffer.concat([Buffer.from(head), file, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    };
    // As the walk keeps a small file: in a window of its own, with room before and after, one
    // byte more than the file (the read that tells growth), beside other files' windows.
    const before = roomyWindow(file.length + 1);
    before.fill('b');
    const window = roomyWindow(file.length + 1);
    const beyond = roomyWindow(file.length + 1);
    beyond.fill('a');
    file.copy(window);
    const content = framable(window, file.length);
    const roomy = window;
    for (let attempt = 0; attempt < 2; attempt++) {
      // Each attempt frames it again (a new boundary): the bytes themselves are never touched.
      const built = multipartOf(content, 'd/a.txt', 'text/plain');
      const body = built.body as Buffer;
      expect(body.buffer).toBe(roomy.buffer);
      expect(body.equals(expected(built))).toBe(true);
      expect(content.equals(file)).toBe(true);
    }
    // The neighbouring files' bytes, in the same slab, are untouched.
    expect(before.buffer).toBe(window.buffer);
    expect(beyond.buffer).toBe(window.buffer);
    expect(before.every((b) => b === 'b'.charCodeAt(0))).toBe(true);
    expect(beyond.every((b) => b === 'a'.charCodeAt(0))).toBe(true);
    // A window too large to share a slab has a buffer of its own, framed in place all the same.
    const large = roomyWindow(20_001);
    expect(large.buffer).not.toBe(window.buffer);
    large.fill('x');
    const largeBody = multipartOf(framable(large, 20_000), 'd/a.txt', 'text/plain').body as Buffer;
    expect(largeBody.buffer).toBe(large.buffer);
    expect(largeBody.length).toBeGreaterThan(20_000);
    // A name longer than the room: copied, the room left as it was.
    const long = `${'n'.repeat(512)}.txt`;
    const copied = multipartOf(content, long, 'text/plain').body as Buffer;
    expect(copied.buffer).not.toBe(roomy.buffer);
    // Bytes in node's shared pool: never framed in place, their neighbours untouched.
    const pool = Buffer.from('neighbour-before|the file, 4 KiB or so|neighbour-after');
    const inPool = pool.subarray(17, 17 + file.length);
    const fromPool = multipartOf(inPool, 'd/a.txt', 'text/plain');
    expect((fromPool.body as Buffer).equals(expected(fromPool))).toBe(true);
    expect(pool.toString()).toBe('neighbour-before|the file, 4 KiB or so|neighbour-after');
  });

  it('a file that is not the expected version any more is a LocalFileError (changed), nothing sent', async () => {
    const dir = await tempDir();
    const emu = await emulator();
    const path = join(dir, 'a.txt');
    await writeFile(path, 'version 1');
    const seen = await stat(path);
    await writeFile(path, 'version 2, longer');
    const err = await client(emu.url)
      .upload(path, { filename: 'a.txt', mimeType: 'text/plain', expect: { size: seen.size, mtimeMs: seen.mtimeMs } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalFileError);
    expect(err).toMatchObject({ code: 'changed', attempts: 0, unknownOutcomeAttempts: 0 });
    expect(emu.state().files).toHaveLength(0);
    const now = await stat(path);
    const ok = await client(emu.url).upload(path, {
      filename: 'a.txt',
      mimeType: 'text/plain',
      expect: { size: now.size, mtimeMs: now.mtimeMs },
    });
    expect(ok.file.size_bytes).toBe(now.size);
  });

  it('bytes handed over (content) are sent as they are, the file not read', async () => {
    const dir = await tempDir();
    const emu = await emulator();
    const path = join(dir, 'a.txt');
    await writeFile(path, 'on disk');
    const content = Buffer.from('as hashed by the walk');
    const result = await client(emu.url).upload(path, { filename: 'a.txt', mimeType: 'text/plain', content });
    expect(result.file.size_bytes).toBe(content.length);
    expect(emu.state().files[0]?.sha256).toBe(sha256(content));
  });

  it('a directory is a LocalFileError (ENOTFILE), nothing sent', async () => {
    const dir = await tempDir();
    const emu = await emulator();
    await mkdir(join(dir, 'sub'));
    const err = await client(emu.url)
      .upload(join(dir, 'sub'), { filename: 'sub', mimeType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalFileError);
    expect(err).toMatchObject({ code: 'ENOTFILE', attempts: 0 });
    expect(emu.state().files).toHaveLength(0);
  });

  it('a large file that shrinks or vanishes before it streams fails as changed, and nothing is stored', async () => {
    const dir = await tempDir();
    const path = join(dir, 'big.bin');
    await writeFile(path, Buffer.alloc(INLINE_MAX_BYTES * 2, 3));
    const shrunk = await multipartBody(path, 'big.bin', 'application/octet-stream');
    await truncate(path, 10);
    await expect(drain(shrunk.body)).rejects.toMatchObject({ name: 'SourceChangedError', code: 'changed' });

    await writeFile(path, Buffer.alloc(INLINE_MAX_BYTES * 2, 3));
    const gone = await multipartBody(path, 'big.bin', 'application/octet-stream');
    await unlink(path);
    await expect(drain(gone.body)).rejects.toMatchObject({ name: 'SourceChangedError', code: 'changed' });
  });
});

async function drain(body: Buffer | AsyncIterable<Buffer>): Promise<number> {
  if (Buffer.isBuffer(body)) return body.length;
  let n = 0;
  for await (const chunk of body) n += chunk.length;
  return n;
}
