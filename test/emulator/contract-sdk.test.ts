// The official SDK (0.121.0, the last that speaks the beta contract) and raw HTTP against the
// emulator; every JSON answer is then validated against openapi/files-beta.yaml.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic, { AuthenticationError, BadRequestError, NotFoundError, toFile } from 'sdk-beta';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { OpenApiContract, recordingFetch, validateRecorded, type RecordedResponse } from '../helpers/openapi.js';

const KEY = 'sk-contract-test-key-0001';
const MAX_BYTES = 64 * 1024;
const BETA_HEADERS = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' };

const records: RecordedResponse[] = [];
const recorded = recordingFetch(records);
let emu: Emulator;
let client: Anthropic;

function sdk(url: string, options: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}): Anthropic {
  return new Anthropic({ apiKey: KEY, baseURL: url, maxRetries: 0, fetch: recorded, ...options });
}

/** A raw request to the emulator through the recording fetch. */
function raw(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
  return recorded(`${emu.url}${path}`, { ...init, headers: { ...BETA_HEADERS, ...init.headers } });
}

/** A raw upload of one `file` part built by FormData (undici escapes `"`, CR, LF in the filename). */
function uploadForm(
  filename: string,
  content: string | Uint8Array = 'x',
  type = 'text/plain',
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([content], { type }), filename);
  return raw('/v1/files?beta=true', { method: 'POST', body: form, headers });
}

/** A multipart body written by hand, for what FormData cannot express (a part without Content-Type). */
function handmade(parts: { name: string; filename?: string; type?: string; content: string }[]): {
  body: Buffer;
  contentType: string;
} {
  const boundary = 'emulator-test-boundary-7MA4YWxkTrZu0gW';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`, 'utf8'), Buffer.from(p.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function errorOf(response: Response): Promise<{ status: number; type: string; message: string }> {
  const body = (await response.json()) as {
    type: string;
    error: { type: string; message: string };
    request_id: string;
  };
  expect(body.type).toBe('error');
  expect(body.request_id).toBe(response.headers.get('request-id'));
  return { status: response.status, type: body.error.type, message: body.error.message };
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, maxFileBytes: MAX_BYTES });
  client = sdk(emu.url);
});

afterAll(async () => {
  await emu.close();
});

describe('the SDK against the emulator', () => {
  it('uploads with explicit MIME types and keeps them, the bytes and the UTF-8 name', async () => {
    const cases = [
      { name: 'notes.txt', type: 'text/plain', content: 'hello world\n' },
      { name: 'report.pdf', type: 'application/pdf', content: '%PDF-1.4 fake' },
      { name: 'data.json', type: 'application/json', content: '{"a":1}' },
      { name: 'résumé 📄 ünïcödé.md', type: 'text/markdown', content: '# hi' },
    ];
    for (const c of cases) {
      const meta = await client.beta.files.upload({
        file: await toFile(Buffer.from(c.content), c.name, { type: c.type }),
      });
      expect(meta).toMatchObject({
        type: 'file',
        filename: c.name,
        mime_type: c.type,
        size_bytes: Buffer.byteLength(c.content),
        downloadable: false,
      });
      expect(meta.id).toMatch(/^file_[0-9A-Za-z]{24}$/);
      expect(meta.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const inspected = emu.state().files.find((f) => f.id === meta.id);
      expect(inspected).toMatchObject({ sha256: sha256(c.content), owner: 'self', mime_type: c.type });
    }
  });

  it('stores application/octet-stream when the part type is empty or absent, and never sniffs', async () => {
    const untyped = await client.beta.files.upload({ file: await toFile(Buffer.from('plain text'), 'untyped.txt') });
    expect(untyped.mime_type).toBe('application/octet-stream');
    const { body, contentType } = handmade([{ name: 'file', filename: 'no-type.txt', content: 'abc' }]);
    const res = await raw('/v1/files', { method: 'POST', body, headers: { 'content-type': contentType } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { mime_type: string }).mime_type).toBe('application/octet-stream');
    const typed = handmade([{ name: 'file', filename: 'typed.txt', type: 'text/plain', content: 'abc' }]);
    const res2 = await raw('/v1/files', {
      method: 'POST',
      body: typed.body,
      headers: { 'content-type': typed.contentType },
    });
    expect(((await res2.json()) as { mime_type: string }).mime_type).toBe('text/plain');
  });

  it('auto-paginates forward with after_id and backward with before_id over several pages', async () => {
    const own = await startEmulator({ apiKey: KEY });
    try {
      const c = sdk(own.url);
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        ids.push(
          (
            await c.beta.files.upload({
              file: await toFile(Buffer.from(`file ${i}`), `f${i}.txt`, { type: 'text/plain' }),
            })
          ).id,
        );
      }
      const newestFirst = [...ids].reverse();
      const before = records.length;
      const forward: string[] = [];
      for await (const f of c.beta.files.list({ limit: 10 })) forward.push(f.id);
      expect(forward).toEqual(newestFirst);
      expect(records.slice(before).filter((r) => r.url.includes('/v1/files?')).length).toBe(3);

      const first = await c.beta.files.list({ limit: 10 });
      expect(first.data.map((f) => f.id)).toEqual(newestFirst.slice(0, 10));
      expect(first).toMatchObject({ has_more: true, first_id: newestFirst[0], last_id: newestFirst[9] });

      // Backward from the oldest file: each page is the 10 files just newer than the cursor.
      const oldest = ids[0] ?? '';
      const pages: string[][] = [];
      for await (const page of (await c.beta.files.list({ limit: 10, before_id: oldest })).iterPages()) {
        pages.push(page.data.map((f) => f.id));
      }
      expect(pages).toEqual([newestFirst.slice(14, 24), newestFirst.slice(4, 14), newestFirst.slice(0, 4)]);
      const backward = pages.flat();
      expect(new Set(backward).size).toBe(24);
      expect(new Set(backward)).toEqual(new Set(ids.slice(1)));

      // Cursor edges: past the end is an empty page; a never-issued id is a 400.
      const empty = await c.beta.files.list({ after_id: oldest });
      expect(empty).toMatchObject({ data: [], first_id: null, last_id: null, has_more: false });
      await expect(c.beta.files.list({ after_id: 'file_doesnotexist000000000000' })).rejects.toBeInstanceOf(BadRequestError);
      // A deleted file keeps its place as a cursor.
      await c.beta.files.delete(newestFirst[9] ?? '');
      const next = await c.beta.files.list({ limit: 10, after_id: newestFirst[9] ?? '' });
      expect(next.data.map((f) => f.id)).toEqual(newestFirst.slice(10, 20));
    } finally {
      await own.close();
    }
  });

  it('retrieves metadata, deletes, then answers 404 (NotFoundError) for the id', async () => {
    const meta = await client.beta.files.upload({
      file: await toFile(Buffer.from('bye'), 'bye.txt', { type: 'text/plain' }),
    });
    const got = await client.beta.files.retrieveMetadata(meta.id);
    expect(got).toEqual(meta);
    expect(await client.beta.files.delete(meta.id)).toEqual({ id: meta.id, type: 'file_deleted' });
    await expect(client.beta.files.retrieveMetadata(meta.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.beta.files.delete(meta.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(emu.state().files.some((f) => f.id === meta.id)).toBe(false);
  });

  it('downloads a seeded downloadable file and refuses an uploaded one with 400', async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const seeded = emu.seed({
      filename: 'chart.png',
      content_base64: bytes.toString('base64'),
      mime_type: 'image/png',
      downloadable: true,
    });
    expect(seeded).toMatchObject({
      owner: 'another-application',
      downloadable: true,
      sha256: sha256(bytes),
      size_bytes: 3000,
    });
    const response = await client.beta.files.download(seeded.id);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    const meta = await client.beta.files.retrieveMetadata(seeded.id);
    expect(meta).toMatchObject({ filename: 'chart.png', mime_type: 'image/png', downloadable: true });

    const uploaded = await client.beta.files.upload({
      file: await toFile(Buffer.from('secret'), 'mine.txt', { type: 'text/plain' }),
    });
    await expect(client.beta.files.download(uploaded.id)).rejects.toBeInstanceOf(BadRequestError);
    await expect(client.beta.files.download('file_unknown00000000000000000')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers 401 (AuthenticationError) for a wrong key and accepts Authorization: Bearer', async () => {
    await expect(sdk(emu.url, { apiKey: 'sk-wrong-key' }).beta.files.list()).rejects.toBeInstanceOf(AuthenticationError);
    const bearer = sdk(emu.url, { apiKey: null, authToken: KEY });
    expect(Array.isArray((await bearer.beta.files.list({ limit: 1 })).data)).toBe(true);
    const noKey = await recorded(`${emu.url}/v1/files`, {
      headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' },
    });
    expect(await errorOf(noKey)).toMatchObject({ status: 401, type: 'authentication_error' });
    const wrong = await raw('/v1/files', { headers: { 'x-api-key': `${KEY}x` } });
    const err = await errorOf(wrong);
    expect(err).toMatchObject({ status: 401, type: 'authentication_error' });
    expect(err.message).not.toContain(KEY);
  });

  it('answers with API-version 2026-10-21 details only when that version is asked for', async () => {
    const uploaded = await client.beta.files.upload({
      file: await toFile(Buffer.from('x'), 'd.txt', { type: 'text/plain' }),
    });
    const beta = (await (await raw(`/v1/files/${uploaded.id}/content`)).json()) as { error: Record<string, unknown> };
    expect(beta.error.details).toBeUndefined();
    const ga = await raw(`/v1/files/${uploaded.id}/content`, {
      headers: { 'x-api-key': '', authorization: `Bearer ${KEY}`, 'anthropic-version': '2026-10-21' },
    });
    expect(ga.status).toBe(400);
    expect(((await ga.json()) as { error: { details: unknown } }).error.details).toEqual({
      error_code: 'file_not_downloadable',
    });
  });
});

describe('raw HTTP checks', () => {
  it('routes with and without ?beta=true, and 404s unknown routes', async () => {
    expect((await raw('/v1/files')).status).toBe(200);
    expect((await raw('/v1/files?beta=true&limit=1')).status).toBe(200);
    expect(await errorOf(await raw('/v1/nothing'))).toMatchObject({ status: 404, type: 'not_found_error' });
    expect(await errorOf(await raw('/v1/files', { method: 'PUT' }))).toMatchObject({
      status: 404,
      type: 'not_found_error',
    });
    expect(await errorOf(await raw('/v1/files/a/b/c'))).toMatchObject({ status: 404, type: 'not_found_error' });
  });

  it('checks anthropic-version and anthropic-beta', async () => {
    // Since GA (files-api.md) a request without the files beta header gets the GA shapes, not a 404.
    const noBeta = await recorded(`${emu.url}/v1/files`, {
      headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
    });
    expect(noBeta.status).toBe(200);
    expect(await noBeta.json()).toHaveProperty('next_page');
    const otherBetaOnly = await raw('/v1/files', { headers: { 'anthropic-beta': 'pdfs-2024-09-25' } });
    expect(otherBetaOnly.status).toBe(200);
    expect(await otherBetaOnly.json()).not.toHaveProperty('has_more');
    const unknown = await raw('/v1/files', {
      headers: { 'anthropic-beta': 'files-api-2025-04-14,made-up-beta-2099-01-01' },
    });
    expect(await errorOf(unknown)).toMatchObject({ status: 400, type: 'invalid_request_error' });
    const listed = await raw('/v1/files', { headers: { 'anthropic-beta': 'pdfs-2024-09-25, files-api-2025-04-14' } });
    expect(listed.status).toBe(200);
    const noVersion = await recorded(`${emu.url}/v1/files`, {
      headers: { 'x-api-key': KEY, 'anthropic-beta': 'files-api-2025-04-14' },
    });
    expect(await errorOf(noVersion)).toMatchObject({ status: 400, type: 'invalid_request_error' });
    const badVersion = await raw('/v1/files', { headers: { 'anthropic-version': '1999-01-01' } });
    expect(await errorOf(badVersion)).toMatchObject({ status: 400, type: 'invalid_request_error' });
  });

  it('accepts the beta header repeated', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${emu.url}/v1/files`, {
        headers: {
          'x-api-key': KEY,
          'anthropic-version': '2023-06-01',
          'anthropic-beta': ['pdfs-2024-09-25', 'files-api-2025-04-14'],
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it('validates limit (1..1000, an integer)', async () => {
    for (const limit of ['0', '1001', '-1', 'abc', '1.5', '']) {
      expect(await errorOf(await raw(`/v1/files?limit=${limit}`))).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
      });
    }
    expect((await raw('/v1/files?limit=1000')).status).toBe(200);
    expect((await raw('/v1/files?limit=1')).status).toBe(200);
    const both = await raw(`/v1/files?after_id=x&before_id=y`);
    expect(await errorOf(both)).toMatchObject({ status: 400, type: 'invalid_request_error' });
  });

  it('refuses bad filenames with 400', async () => {
    const bad = ['<', '>', ':', '"', '|', '?', '*', '\\', '/', '\u0000', '\u0001', '\t', '\n', '\r', '\u001f'].map((c) => `a${c}b.txt`);
    for (const name of [...bad, 'x'.repeat(256), '']) {
      const response = await uploadForm(name);
      expect({ name, ...(await errorOf(response)) }).toMatchObject({
        name,
        status: 400,
        type: 'invalid_request_error',
      });
    }
    const before = emu.state().files.length;
    expect((await uploadForm('x'.repeat(255))).status).toBe(200);
    // Length counts code points: 255 emoji (510 UTF-16 units) are 255 characters.
    const emoji = await uploadForm('😀'.repeat(255));
    expect(emoji.status).toBe(200);
    expect(((await emoji.json()) as { filename: string }).filename).toBe('😀'.repeat(255));
    expect(await errorOf(await uploadForm('😀'.repeat(256)))).toMatchObject({ status: 400 });
    expect(emu.state().files.length).toBe(before + 2);
  });

  it('refuses a body without a file part, a plain `file` field, and a non-multipart body', async () => {
    const form = new FormData();
    form.append('purpose', 'nothing');
    expect(await errorOf(await raw('/v1/files', { method: 'POST', body: form }))).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
    });
    const field = new FormData();
    field.append('file', 'just text');
    expect(await errorOf(await raw('/v1/files', { method: 'POST', body: field }))).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
    });
    const json = await raw('/v1/files', {
      method: 'POST',
      body: '{"file":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(await errorOf(json)).toMatchObject({ status: 400, type: 'invalid_request_error' });
    const broken = await raw('/v1/files', {
      method: 'POST',
      body: 'garbage',
      headers: { 'content-type': 'multipart/form-data; boundary=zzz' },
    });
    expect(await errorOf(broken)).toMatchObject({ status: 400, type: 'invalid_request_error' });
  });

  it('answers 413 request_too_large over maxFileBytes, by Content-Length or while streaming', async () => {
    const before = emu.state().files.length;
    const big = await uploadForm('big.bin', new Uint8Array(MAX_BYTES + 1), 'application/octet-stream');
    expect(await errorOf(big)).toMatchObject({ status: 413, type: 'request_too_large' });
    // Chunked, no Content-Length: the cap is found while reading.
    const { body, contentType } = handmade([
      { name: 'file', filename: 'big.bin', type: 'application/octet-stream', content: 'y'.repeat(MAX_BYTES * 2) },
    ]);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < body.length; at += 8192) controller.enqueue(body.subarray(at, at + 8192));
        controller.close();
      },
    });
    const chunked = await raw('/v1/files', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': contentType },
      duplex: 'half',
    });
    expect(await errorOf(chunked)).toMatchObject({ status: 413, type: 'request_too_large' });
    expect(emu.state().files.length).toBe(before);
    // The connection is still usable afterwards.
    expect((await raw('/v1/files?limit=1')).status).toBe(200);
  });
});

describe('answers', () => {
  it('every answer carried a request-id', () => {
    expect(records.length).toBeGreaterThan(50);
    for (const r of records) expect(`${r.method} ${r.url} ${r.headers.get('request-id')}`).toMatch(/ req_[0-9A-Za-z]{24}$/);
  });

  it('every JSON answer validates against files-beta.yaml', () => {
    const contract = new OpenApiContract();
    expect(records.filter((r) => r.json !== undefined).length).toBeGreaterThan(50);
    expect(validateRecorded(contract, records)).toEqual([]);
    // The checker itself refuses what the spec refuses.
    expect(contract.validate('BetaFileMetadataSchema', { id: 'file_x', type: 'file' })).not.toEqual([]);
    expect(
      contract.validate('BetaErrorResponse', {
        type: 'error',
        error: { type: 'not_found_error' },
        request_id: 'req_1',
      }),
    ).not.toEqual([]);
    expect(contract.validate('BetaFileListResponse', { data: [], first_id: null, last_id: null, has_more: false })).toEqual([]);
  });
});
