// The GA contract on the wire, seen from a local server the test controls: bearer auth, no beta
// header, the workspace header, page/next_page paging, ids[] look-ups, expires_at and error codes.
import { describe, expect, it } from 'vitest';
import {
  FileExpiredError,
  NotDownloadableError,
  StorageQuotaExceededError,
  ApiError,
  ResponseFormatError,
} from '../../src/remote/index.js';
import { endsRun } from '../../src/failure.js';
import { client, fileMeta, json, localServer, tempDir, TEST_KEY } from '../helpers/client-fixtures.js';

const GA = { contract: 'ga', apiVersion: '2026-10-21' } as const;

function errorBody(type: string, message: string, code?: string): unknown {
  return {
    type: 'error',
    error: { type, message, ...(code ? { details: { error_code: code } } : {}) },
    request_id: 'req_local',
  };
}

describe('GA contract on the wire', () => {
  it('sends Authorization: Bearer, anthropic-version 2026-10-21, the workspace id and no beta header or ?beta=true', async () => {
    const urls: string[] = [];
    const server = await localServer((req, res) => {
      urls.push(req.url ?? '');
      json(res, 200, { data: [], next_page: null });
    });
    const c = client(server.url, { ...GA, workspaceId: 'wrkspc_test01' });
    for await (const _ of c.list()) void _;
    const headers = server.headers[0]!;
    expect(headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(headers['x-api-key']).toBeUndefined();
    expect(headers['anthropic-version']).toBe('2026-10-21');
    expect(headers['anthropic-beta']).toBeUndefined();
    expect(headers['anthropic-workspace-id']).toBe('wrkspc_test01');
    expect(urls).toEqual(['/v1/files?limit=1000']);
  });

  it('with version 2023-06-01 sends the key as x-api-key', async () => {
    const server = await localServer((_req, res) => json(res, 200, { data: [], next_page: null }));
    const c = client(server.url, { contract: 'ga', apiVersion: '2023-06-01' });
    for await (const _ of c.list()) void _;
    expect(server.headers[0]).toMatchObject({ 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01' });
    expect(server.headers[0]!.authorization).toBeUndefined();
  });

  it('pages with page=<next_page> until next_page is null, and keeps expires_at', async () => {
    const urls: string[] = [];
    const server = await localServer((req, res) => {
      urls.push(req.url ?? '');
      const page = new URL(req.url ?? '/', 'http://x').searchParams.get('page');
      if (page === null)
        return json(res, 200, {
          data: [fileMeta('file_a', { expires_at: '2026-12-01T00:00:00.000000Z' })],
          next_page: 'page_two',
        });
      return json(res, 200, { data: [fileMeta('file_b', { expires_at: null })], next_page: null });
    });
    const c = client(server.url, { ...GA, listPageSize: 1 });
    const files = [];
    for await (const f of c.list()) files.push(f);
    expect(files.map((f) => [f.id, f.expires_at])).toEqual([
      ['file_a', '2026-12-01T00:00:00.000000Z'],
      ['file_b', null],
    ]);
    expect(urls).toEqual(['/v1/files?limit=1', '/v1/files?limit=1&page=page_two']);
  });

  it('looks ids up as repeated ids[] without page or limit, de-duplicated, at most 100, one page', async () => {
    const urls: string[] = [];
    const server = await localServer((req, res) => {
      urls.push(req.url ?? '');
      const ids = new URL(req.url ?? '/', 'http://x').searchParams.getAll('ids[]');
      // An id nobody asked for is dropped by the client.
      json(res, 200, {
        data: [...ids.filter((id) => id !== 'file_gone').map((id) => fileMeta(id)), fileMeta('file_unasked')],
        next_page: null,
      });
    });
    const c = client(server.url, GA);
    const found = await c.lookup(['file_a', 'file_gone', 'file_a', 'file_b']);
    expect(found.map((f) => f.id)).toEqual(['file_a', 'file_b']);
    expect(urls).toEqual(['/v1/files?ids%5B%5D=file_a&ids%5B%5D=file_gone&ids%5B%5D=file_b']);
    const many = Array.from({ length: 101 }, (_, i) => `file_${i}`);
    await expect(c.lookup(many)).rejects.toThrow(/1 to 100 ids/);
    expect(urls.length).toBe(1);
    await expect(client(server.url, { contract: 'beta' }).lookup(['file_a'])).rejects.toThrow(/GA contract/);
  });

  it('a look-up answer that claims a next page is malformed, not a partial truth', async () => {
    const server = await localServer((_req, res) => json(res, 200, { data: [fileMeta('file_a')], next_page: 'page_more' }));
    await expect(client(server.url, GA).lookup(['file_a', 'file_b'])).rejects.toBeInstanceOf(ResponseFormatError);
  });

  it('a look-up answer that is no page is the API unusable (exit 5); one bad item, or its scope, is not (exit 1)', async () => {
    let body: unknown;
    const server = await localServer((_req, res) => json(res, 200, body));
    const cases: [unknown, number][] = [
      ['<html>a proxy</html>', 5],
      [{ data: [{ ...fileMeta('file_a'), scope: { id: 7 } }], next_page: null }, 1],
      [{ data: [{ ...fileMeta('file_a'), size_bytes: -1 }], next_page: null }, 1],
    ];
    for (const [answer, exitCode] of cases) {
      body = answer;
      const err = await client(server.url, GA)
        .lookup(['file_a'])
        .catch((e: unknown) => e);
      expect(err, JSON.stringify(answer)).toMatchObject({ name: 'ResponseFormatError', exitCode });
    }
  });

  it('carries error.details.error_code and turns the known codes into their classes', async () => {
    let answer: () => [number, unknown] = () => [200, {}];
    const server = await localServer((_req, res) => {
      const [status, body] = answer();
      json(res, status, body);
    });
    const c = client(server.url, { ...GA, maxAttempts: 1 });
    const dir = await tempDir();

    answer = () => [400, errorBody('invalid_request_error', 'Storage limit exceeded', 'storage_quota_exceeded')];
    const quota = await c
      .upload(import.meta.filename, { filename: 'x.txt', mimeType: 'text/plain', content: Buffer.from('x') })
      .catch((e: unknown) => e);
    expect(quota).toBeInstanceOf(StorageQuotaExceededError);
    expect(quota).toMatchObject({ errorCode: 'storage_quota_exceeded', status: 400, exitCode: 5 });
    expect((quota as Error).message).toMatch(/storage quota is exhausted; delete files/);
    expect(endsRun(quota)).toBe(true);

    answer = () => [400, errorBody('invalid_request_error', 'not downloadable', 'file_not_downloadable')];
    await expect(c.download('file_a', `${dir}/a`)).rejects.toBeInstanceOf(NotDownloadableError);

    answer = () => [404, errorBody('not_found_error', 'expired', 'file_expired')];
    const expired = await c.download('file_a', `${dir}/a`).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(FileExpiredError);
    expect(expired).toMatchObject({ errorCode: 'file_expired', status: 404 });

    // An unknown code acts as its bare type: a 400 on upload stays a per-file ApiError, never fatal.
    answer = () => [400, errorBody('invalid_request_error', 'odd', 'some_future_code')];
    const unknown = await c
      .upload(import.meta.filename, { filename: 'x.txt', mimeType: 'text/plain', content: Buffer.from('x') })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ApiError);
    expect(unknown).not.toBeInstanceOf(StorageQuotaExceededError);
    expect(unknown).toMatchObject({ errorCode: 'some_future_code', type: 'invalid_request_error', exitCode: 1 });
    expect(endsRun(unknown)).toBe(false);
    // A known code on another status than its own is not taken for it.
    answer = () => [404, errorBody('not_found_error', 'odd', 'storage_quota_exceeded')];
    const misplaced = await c.get('file_a').catch((e: unknown) => e);
    expect(misplaced).not.toBeInstanceOf(StorageQuotaExceededError);
  });

  it('reads the API clock from the Date header', async () => {
    const ahead = Date.now() + 3_600_000;
    const server = await localServer((_req, res) => json(res, 200, { data: [], next_page: null }, { date: new Date(ahead).toUTCString() }));
    const c = client(server.url, GA);
    for await (const _ of c.list()) void _;
    expect(Math.abs(c.serverNow() - ahead)).toBeLessThan(5_000);
  });
});
