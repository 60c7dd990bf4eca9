// FilesClient against the real emulator over HTTP: every call, the error classes, close().
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { ApiError, AuthError, FilesClient, NotDownloadableError, type FileMetadata } from '../../src/remote/index.js';
import { client, emulator, tempDir, TEST_KEY } from '../helpers/client-fixtures.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('FilesClient against the emulator', () => {
  it('uploads a file with its filename and MIME type, streamed, and the stored bytes match', async () => {
    const emu = await emulator();
    const dir = await tempDir();
    const path = join(dir, 'local name.md');
    const content = '# Notes\n\nsome text ✓\n'.repeat(100);
    await writeFile(path, content);
    const c = client(emu.url);

    const result = await c.upload(path, { filename: 'notes.md', mimeType: 'text/markdown' });

    expect(result.attempts).toBe(1);
    expect(result.unknownOutcomeAttempts).toBe(0);
    expect(result.file).toMatchObject({
      type: 'file',
      filename: 'notes.md',
      mime_type: 'text/markdown',
      size_bytes: Buffer.byteLength(content),
    });
    const stored = emu.state().files.find((f) => f.id === result.file.id);
    expect(stored).toMatchObject({
      filename: 'notes.md',
      mime_type: 'text/markdown',
      owner: 'self',
      sha256: sha256(content),
    });
    expect(c.stats).toMatchObject({ requests: 1, retries: 0, rateLimited: 0, byKind: { upload: 1 } });
  });

  it('lists every file of the workspace in pages of 1000 (2,100 files: 3 requests)', async () => {
    const emu = await emulator();
    for (let i = 0; i < 2_100; i++) emu.seed({ filename: `seed-${i}.txt`, content_base64: Buffer.from(`file ${i}`).toString('base64') });
    emu.resetCounters();
    const c = client(emu.url);

    const seen: FileMetadata[] = [];
    for await (const file of c.list()) seen.push(file);

    expect(seen).toHaveLength(2_100);
    expect(new Set(seen.map((f) => f.id)).size).toBe(2_100);
    expect(new Set(seen.map((f) => f.id))).toEqual(new Set(emu.state().files.map((f) => f.id)));
    expect(emu.state().requests['GET /v1/files']).toEqual({ '200': 3 });
    expect(c.stats.byKind.list).toBe(3);
  });

  it('lists an empty workspace with one request', async () => {
    const emu = await emulator();
    const c = client(emu.url);
    const seen: FileMetadata[] = [];
    for await (const file of c.list()) seen.push(file);
    expect(seen).toEqual([]);
    expect(c.stats.requests).toBe(1);
  });

  it('gets metadata, deletes, and a second delete is alreadyDeleted; get after delete is a 404 ApiError', async () => {
    const emu = await emulator();
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'abc');
    const c = client(emu.url);
    const { file } = await c.upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' });

    expect(await c.get(file.id)).toEqual(file);
    expect(await c.delete(file.id)).toEqual({ id: file.id, alreadyDeleted: false });
    expect(await c.delete(file.id)).toEqual({ id: file.id, alreadyDeleted: true });
    expect(emu.state().files).toHaveLength(0);

    const err = await c.get(file.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      status: 404,
      type: 'not_found_error',
      retryable: false,
      attempts: 1,
      exitCode: ExitCode.fileFailures,
    });
    expect((err as ApiError).requestId).toMatch(/^req_/);
  });

  it('downloads a downloadable file through a temp file, and refuses an uploaded one with NotDownloadableError', async () => {
    const emu = await emulator();
    const dir = await tempDir();
    const content = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
    const seeded = emu.seed({
      filename: 'report.csv',
      content_base64: content.toString('base64'),
      downloadable: true,
      mime_type: 'text/csv',
    });
    const c = client(emu.url);

    const target = join(dir, 'report.csv');
    expect(await c.download(seeded.id, target)).toEqual({ bytes: content.length });
    expect(sha256(await readFile(target))).toBe(seeded.sha256);

    await writeFile(join(dir, 'mine.txt'), 'mine');
    const { file } = await c.upload(join(dir, 'mine.txt'), { filename: 'mine.txt', mimeType: 'text/plain' });
    const err = await c.download(file.id, join(dir, 'mine-copy.txt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDownloadableError);
    expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', retryable: false, attempts: 1 });
    // Neither the target nor a temp file is left behind.
    expect((await readdir(dir)).sort()).toEqual(['mine.txt', 'report.csv']);
  });

  it('speaks API version 2026-10-21 (Bearer key) and reads error.details.error_code', async () => {
    const emu = await emulator();
    const dir = await tempDir();
    await writeFile(join(dir, 'x.txt'), 'x');
    const c = client(emu.url, { apiVersion: '2026-10-21' });
    const { file } = await c.upload(join(dir, 'x.txt'), { filename: 'x.txt', mimeType: 'text/plain' });
    const err = await c.download(file.id, join(dir, 'copy.txt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDownloadableError);
    expect(err).toMatchObject({ errorCode: 'file_not_downloadable' });
  });

  it('turns a 401 into a fatal AuthError at once (exit code 4), not retried', async () => {
    const emu = await emulator();
    const c = client(emu.url, { apiKey: 'sk-ant-wrong-key-000000000000' });
    const err = await c.get('file_x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({
      status: 401,
      type: 'authentication_error',
      exitCode: ExitCode.auth,
      attempts: 1,
      retryable: false,
    });
    expect((err as Error).message).toMatch(/API key was refused.*ANTHROPIC_API_KEY/);
    expect(c.stats.requests).toBe(1);
  });

  it('close() is idempotent and later calls fail with client_closed', async () => {
    const emu = await emulator();
    const c = new FilesClient({ baseUrl: emu.url, apiKey: TEST_KEY });
    await c.get('file_nope').catch(() => undefined);
    await Promise.all([c.close(), c.close()]);
    await c.close();
    await expect(c.get('file_nope')).rejects.toMatchObject({ type: 'client_closed' });
  });

  it('close() ends a call waiting for a rate-limiter slot with client_closed', async () => {
    const emu = await emulator();
    const seeded = emu.seed({ filename: 'a.txt', content_base64: 'YQ==' });
    const c = client(emu.url, { requestsPerMinute: 1, rateLimitWindowMs: 60_000 });
    await c.get(seeded.id);
    const waiting = c.get(seeded.id).catch((e: unknown) => e);
    await c.close();
    expect(await waiting).toMatchObject({ type: 'client_closed', attempts: 0 });
    expect(c.stats.requests).toBe(1);
  });

  it('a missing source file is a LocalFileError carrying the attempt counts', async () => {
    const emu = await emulator();
    const dir = await tempDir();
    const c = client(emu.url);
    const err = await c.upload(join(dir, 'gone.txt'), { filename: 'gone.txt', mimeType: 'text/plain' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'LocalFileError', code: 'ENOENT', unknownOutcomeAttempts: 0, attempts: 0 });
    expect(c.stats.requests).toBe(0);
  });
});
