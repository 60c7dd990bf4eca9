// The official SDK 1.x (the GA contract, API version 2026-10-21) against the emulator; every JSON
// answer is then validated against openapi/files-ga.yaml (OpenAPI 3.1).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic, { AuthenticationError, BadRequestError, NotFoundError, toFile } from 'sdk-ga';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { OPENAPI_GA_PATH, OpenApiContract, recordingFetch, validateRecorded, type RecordedResponse } from '../helpers/openapi.js';

const KEY = 'sk-contract-ga-test-key-0001';

const records: RecordedResponse[] = [];
const recorded = recordingFetch(records);
/** Request headers the SDK sent, by URL, to check what it puts on the wire. */
const sent: { url: string; headers: Headers }[] = [];
let emu: Emulator;
let client: Anthropic;

const spyingFetch: typeof fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (/^https?:/.test(url)) sent.push({ url, headers: new Headers(init?.headers) });
  return recorded(input, init);
};

function sdk(url: string, options: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}): Anthropic {
  return new Anthropic({ apiKey: KEY, baseURL: url, maxRetries: 0, fetch: spyingFetch, ...options });
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
  client = sdk(emu.url);
});

afterAll(async () => {
  await emu.close();
});

describe('the SDK 1.x against the emulator', () => {
  it('sends Bearer auth, anthropic-version 2026-10-21, no beta header and no ?beta=true', async () => {
    const before = sent.length;
    await client.files.list({ limit: 1, workspace_id: 'wrkspc_contract' });
    const request = sent[before]!;
    expect(request.url).not.toContain('beta=true');
    expect(request.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(request.headers.get('x-api-key')).toBeNull();
    expect(request.headers.get('anthropic-version')).toBe('2026-10-21');
    expect(request.headers.get('anthropic-beta')).toBeNull();
    expect(request.headers.get('anthropic-workspace-id')).toBe('wrkspc_contract');
  });

  it('uploads with explicit MIME types and keeps them, the bytes and the UTF-8 name; expires_at is null', async () => {
    const cases = [
      { name: 'notes.txt', type: 'text/plain', content: 'hello world\n' },
      { name: 'report.pdf', type: 'application/pdf', content: '%PDF-1.4 fake' },
      { name: 'data.json', type: 'application/json', content: '{"a":1}' },
      { name: 'résumé 📄 ünïcödé.md', type: 'text/markdown', content: '# hi' },
    ];
    for (const c of cases) {
      const meta = await client.files.upload({ file: await toFile(Buffer.from(c.content), c.name, { type: c.type }) });
      expect(meta).toMatchObject({
        type: 'file',
        filename: c.name,
        mime_type: c.type,
        size_bytes: Buffer.byteLength(c.content),
        downloadable: false,
        expires_at: null,
      });
      expect(meta.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(emu.state().files.find((f) => f.id === meta.id)).toMatchObject({
        sha256: sha256(c.content),
        owner: 'self',
        mime_type: c.type,
      });
    }
  });

  it('uploads with expires_in_seconds: expires_at is the upload time plus that; out of range is a 400', async () => {
    const meta = await client.files.upload({
      file: await toFile(Buffer.from('short-lived'), 'tmp.txt', { type: 'text/plain' }),
      expires_in_seconds: 7200,
    });
    expect(Date.parse(meta.expires_at!) - Date.parse(meta.created_at)).toBe(7_200_000);
    await expect(
      client.files.upload({
        file: await toFile(Buffer.from('x'), 'x.txt', { type: 'text/plain' }),
        expires_in_seconds: 60,
      }),
    ).rejects.toBeInstanceOf(BadRequestError);
  });

  it('auto-paginates over several pages with page/next_page, newest first', async () => {
    const own = await startEmulator({ apiKey: KEY });
    try {
      const c = sdk(own.url);
      const ids: string[] = [];
      for (let i = 0; i < 25; i++)
        ids.push((await c.files.upload({ file: await toFile(Buffer.from(`file ${i}`), `f${i}.txt`, { type: 'text/plain' }) })).id);
      const before = records.length;
      const listed: string[] = [];
      for await (const f of c.files.list({ limit: 10 })) listed.push(f.id);
      expect(listed).toEqual([...ids].reverse());
      const pages = records.slice(before).filter((r) => r.url.includes('/v1/files?'));
      expect(pages.length).toBe(3);
      expect(pages[1]!.url).toMatch(/[?&]page=page_/);
      expect((pages[2]!.json as { next_page: unknown }).next_page).toBeNull();
    } finally {
      await own.close();
    }
  });

  it('looks files up with ids[]: one page, deleted and unknown ids left out', async () => {
    const a = await client.files.upload({ file: await toFile(Buffer.from('a'), 'a.txt', { type: 'text/plain' }) });
    const b = await client.files.upload({ file: await toFile(Buffer.from('b'), 'b.txt', { type: 'text/plain' }) });
    await client.files.delete(b.id);
    const before = sent.length;
    const page = await client.files.list({ ids: [a.id, b.id, 'file_unknown00000000000000000'] });
    expect(page.data.map((f) => f.id)).toEqual([a.id]);
    expect(page.hasNextPage()).toBe(false);
    expect(sent[before]!.url).toContain(`ids%5B%5D=${a.id}`);
    const tooMany = Array.from({ length: 101 }, (_, i) => `file_${String(i).padStart(24, '0')}`);
    await expect(client.files.list({ ids: tooMany })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('retrieves metadata, deletes, then answers 404 (NotFoundError)', async () => {
    const meta = await client.files.upload({
      file: await toFile(Buffer.from('bye'), 'bye.txt', { type: 'text/plain' }),
    });
    expect(await client.files.retrieveMetadata(meta.id)).toEqual(meta);
    expect(await client.files.delete(meta.id)).toEqual({ id: meta.id, type: 'file_deleted' });
    await expect(client.files.retrieveMetadata(meta.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.files.delete(meta.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('downloads a seeded downloadable file; an uploaded one is FileNotDownloadableError; an expired one FileExpiredError', async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const seeded = emu.seed({
      filename: 'chart.png',
      content_base64: bytes.toString('base64'),
      mime_type: 'image/png',
      downloadable: true,
    });
    const response = await client.files.download(seeded.id);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);

    const uploaded = await client.files.upload({
      file: await toFile(Buffer.from('secret'), 'mine.txt', { type: 'text/plain' }),
    });
    const refused = await client.files.download(uploaded.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.FileNotDownloadableError);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect(refused).toMatchObject({ status: 400, errorCode: 'file_not_downloadable' });

    emu.expire(seeded.id, 3600);
    emu.advanceClock(3_600_001);
    const expired = await client.files.download(seeded.id).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(Anthropic.FileExpiredError);
    expect(expired).toMatchObject({ status: 404, errorCode: 'file_expired' });
  });

  it('answers 401 (AuthenticationError) for a wrong key', async () => {
    await expect(sdk(emu.url, { apiKey: 'sk-wrong-key' }).files.list()).rejects.toBeInstanceOf(AuthenticationError);
  });
});

describe('answers', () => {
  it('every JSON answer validates against files-ga.yaml (OpenAPI 3.1)', () => {
    const contract = new OpenApiContract(OPENAPI_GA_PATH);
    expect(contract.openapi).toBe('3.1.0');
    expect(records.filter((r) => r.json !== undefined).length).toBeGreaterThan(15);
    expect(validateRecorded(contract, records)).toEqual([]);
    // The checker refuses what the GA schema refuses, and takes the 3.1 null unions.
    expect(contract.validate('FileListResponse', { data: [], first_id: null, last_id: null, has_more: false })).not.toEqual([]);
    expect(contract.validate('FileListResponse', { data: [], next_page: null })).toEqual([]);
    const meta = {
      id: 'file_x',
      type: 'file',
      filename: 'a',
      mime_type: 'text/plain',
      size_bytes: 1,
      created_at: '2025-04-15T18:37:24.100435Z',
    };
    expect(contract.validate('FileMetadataSchema', { ...meta, expires_at: null })).toEqual([]);
    expect(contract.validate('FileMetadataSchema', { ...meta, expires_at: 5 })).not.toEqual([]);
    expect(
      contract.validate('ErrorResponse', {
        type: 'error',
        error: { type: 'not_found_error', message: 'x', details: {} },
        request_id: 'req_1',
      }),
    ).not.toEqual([]);
  });
});
