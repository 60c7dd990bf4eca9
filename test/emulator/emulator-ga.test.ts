// The emulator's GA routes over raw HTTP: page cursors under change, ids[] look-ups, expiry on an
// advanced clock, beta parameters refused, both auth styles, error codes, counters and faults.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

const KEY = 'sk-emulator-ga-test-key-0001';
const GA = { authorization: `Bearer ${KEY}`, 'anthropic-version': '2026-10-21' };
let emu: Emulator;

type Meta = { id: string; expires_at?: string | null; created_at: string };
type Page = { data: Meta[]; next_page: string | null };

function api(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${emu.url}${path}`, { ...init, headers: { ...GA, ...init.headers } });
}

async function upload(name: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([`content of ${name}`], { type: 'text/plain' }), name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return api('/v1/files', { method: 'POST', body: form });
}

async function uploaded(name: string, fields: Record<string, string> = {}): Promise<Meta> {
  const res = await upload(name, fields);
  expect(res.status).toBe(200);
  return (await res.json()) as Meta;
}

async function errorOf(res: Response): Promise<{ status: number; type: string; code: unknown }> {
  const body = (await res.json()) as { error: { type: string; details?: { error_code?: string } } };
  return { status: res.status, type: body.error.type, code: body.error.details?.error_code };
}

beforeEach(async () => {
  emu = await startEmulator({ apiKey: KEY });
});
afterEach(async () => {
  await emu.close();
});

describe('GA upload names', () => {
  it('keeps only the last path component of the filename, and names a part without one `unnamed` plus an extension', async () => {
    expect((await uploaded('reports/2026/q3.txt')) as Meta & { filename: string }).toMatchObject({ filename: 'q3.txt' });
    expect((await uploaded('C\\docs\\notes.txt')) as Meta & { filename: string }).toMatchObject({ filename: 'notes.txt' });
    // Nothing after the last separator: the part has no name of its own.
    expect((await uploaded('folder/')) as Meta & { filename: string }).toMatchObject({ filename: 'unnamed.txt' });
    const field = new FormData();
    field.append('file', 'a plain field, no filename');
    const plain = await api('/v1/files', { method: 'POST', body: field });
    expect(plain.status).toBe(200);
    expect(await plain.json()).toMatchObject({ filename: 'unnamed.bin', mime_type: 'application/octet-stream', size_bytes: 26 });
    expect(
      emu
        .state()
        .files.map((f) => f.filename)
        .sort(),
    ).toEqual(['notes.txt', 'q3.txt', 'unnamed.bin', 'unnamed.txt']);
  });

  it('keeps the bytes of a part without a filename as sent, with or without a charset', async () => {
    const send = async (type: string, bytes: Buffer) => {
      const head = Buffer.from(`--b\r\nContent-Disposition: form-data; name="file"\r\nContent-Type: ${type}\r\n\r\n`);
      const body = Buffer.concat([head, bytes, Buffer.from('\r\n--b--\r\n')]);
      const res = await api('/v1/files', { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=b' } });
      expect(res.status).toBe(200);
      const meta = (await res.json()) as Meta & { size_bytes: number };
      return { size: meta.size_bytes, sha256: emu.state().files.find((f) => f.id === meta.id)?.sha256 };
    };
    const raw = Buffer.from([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff]);
    expect(await send('text/plain', raw)).toEqual({ size: 6, sha256: createHash('sha256').update(raw).digest('hex') });
    const utf8 = Buffer.from('é€ ok', 'utf8');
    expect(await send('text/plain; charset=utf-8', utf8)).toEqual({
      size: utf8.length,
      sha256: createHash('sha256').update(utf8).digest('hex'),
    });
  });

  it('applies the filename rules to the name it keeps', async () => {
    for (const name of ['dir/a<b.txt', 'dir/a:b.txt', `dir/${'x'.repeat(256)}`]) {
      expect({ name, ...(await errorOf(await upload(name))) }).toMatchObject({ name, status: 400, type: 'invalid_request_error' });
    }
    // The name kept is 255 characters: the path before it does not count.
    expect((await upload(`${'d'.repeat(300)}/${'x'.repeat(255)}`)).status).toBe(200);
    expect(emu.state().files).toHaveLength(1);
  });
});

describe('GA listing', () => {
  it('answers {data, next_page} newest first, with expires_at, and ends with next_page null', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await uploaded(`f${i}.txt`)).id);
    const pages: string[][] = [];
    let page: string | null = null;
    do {
      const res = await api(`/v1/files?limit=2${page ? `&page=${encodeURIComponent(page)}` : ''}`);
      const body = (await res.json()) as Page;
      expect(Object.keys(body).sort()).toEqual(['data', 'next_page']);
      for (const f of body.data) expect(f.expires_at).toBeNull();
      pages.push(body.data.map((f) => f.id));
      page = body.next_page;
      if (page !== null) expect(page).toMatch(/^page_/);
    } while (page !== null);
    expect(pages).toEqual([ids.slice(3).reverse(), ids.slice(1, 3).reverse(), [ids[0]]]);
  });

  it('keeps a cursor right while files are added and deleted between pages', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await uploaded(`f${i}.txt`)).id);
    const first = (await (await api('/v1/files?limit=2')).json()) as Page;
    expect(first.data.map((f) => f.id)).toEqual([ids[5], ids[4]]);
    // Between pages: a new file (newer than every page), the cursor's own file and the next one deleted.
    await uploaded('new.txt');
    expect((await api(`/v1/files/${ids[4]}`, { method: 'DELETE' })).status).toBe(200);
    expect((await api(`/v1/files/${ids[3]}`, { method: 'DELETE' })).status).toBe(200);
    const second = (await (await api(`/v1/files?limit=2&page=${first.next_page}`)).json()) as Page;
    expect(second.data.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    const third = (await (await api(`/v1/files?limit=2&page=${second.next_page}`)).json()) as Page;
    expect(third).toEqual({ data: [expect.objectContaining({ id: ids[0] })], next_page: null });
  });

  it('refuses a cursor it did not hand out, and the beta cursors', async () => {
    expect(await errorOf(await api('/v1/files?page=page_bogus'))).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
    });
    const f = await uploaded('a.txt');
    expect(await errorOf(await api(`/v1/files?after_id=${f.id}`))).toMatchObject({ status: 400 });
    expect(await errorOf(await api(`/v1/files?before_id=${f.id}`))).toMatchObject({ status: 400 });
    // The same parameters with the beta header get the beta shapes.
    const beta = await api(`/v1/files?after_id=${f.id}`, { headers: { 'anthropic-beta': 'files-api-2025-04-14' } });
    expect(await beta.json()).toEqual({ data: [], first_id: null, last_id: null, has_more: false });
  });
});

describe('ids[] look-ups', () => {
  it('answers the live files among the ids in one page, leaving unknown and deleted ids out', async () => {
    const a = await uploaded('a.txt');
    const b = await uploaded('b.txt');
    const c = await uploaded('c.txt');
    await api(`/v1/files/${b.id}`, { method: 'DELETE' });
    const q = [a.id, b.id, c.id, 'file_neverissued0000000000', a.id].map((id) => `ids%5B%5D=${id}`).join('&');
    const res = await api(`/v1/files?${q}`);
    const body = (await res.json()) as Page;
    expect(body.data.map((f) => f.id)).toEqual([c.id, a.id]);
    expect(body.next_page).toBeNull();
    expect(emu.state().requests['GET /v1/files?ids[]']).toEqual({ '200': 1 });
    expect(emu.state().requests['GET /v1/files']).toBeUndefined();
  });

  it('takes at most 100 distinct ids and never page or limit', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `ids[]=file_${String(i).padStart(24, '0')}`).join('&');
    expect((await api(`/v1/files?${ids(100)}`)).status).toBe(200);
    expect(await errorOf(await api(`/v1/files?${ids(101)}`))).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
    });
    // 150 parameters naming 100 distinct ids are 100 ids.
    expect((await api(`/v1/files?${ids(100)}&${ids(50)}`)).status).toBe(200);
    expect(await errorOf(await api(`/v1/files?${ids(2)}&limit=10`))).toMatchObject({ status: 400 });
    expect(await errorOf(await api(`/v1/files?${ids(2)}&page=page_x`))).toMatchObject({ status: 400 });
  });
});

describe('expiry', () => {
  it('takes expires_in_seconds from 3600 to 7776000 and sets expires_at to upload time plus that', async () => {
    for (const bad of ['3599', '7776001', 'soon', '-5', '1.5']) {
      expect(await errorOf(await upload('x.txt', { expires_in_seconds: bad }))).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
      });
    }
    const f = await uploaded('x.txt', { expires_in_seconds: '3600' });
    expect(Date.parse(f.expires_at!) - Date.parse(f.created_at)).toBe(3_600_000);
    expect((await uploaded('y.txt', { expires_in_seconds: '7776000' })).expires_at).toBeTruthy();
    expect(emu.state().files.filter((s) => s.filename === 'x.txt' || s.filename === 'y.txt')).toHaveLength(2);
  });

  it('past expires_at (the clock advanced) the download is 404 file_expired; the file still lists', async () => {
    const seeded = emu.seed({
      filename: 'out.png',
      content_base64: Buffer.from('png').toString('base64'),
      downloadable: true,
    });
    emu.expire(seeded.id, 3600);
    expect((await api(`/v1/files/${seeded.id}/content`)).status).toBe(200);
    const before = Date.parse((await api('/v1/files')).headers.get('date')!);
    emu.advanceClock(3_601_000);
    const res = await api(`/v1/files/${seeded.id}/content`);
    expect(Date.parse(res.headers.get('date')!) - before).toBeGreaterThanOrEqual(3_599_000);
    expect(await errorOf(res)).toEqual({ status: 404, type: 'not_found_error', code: 'file_expired' });
    const meta = (await (await api(`/v1/files/${seeded.id}`)).json()) as Meta;
    expect(Date.parse(meta.expires_at!)).toBeLessThan(Date.parse(res.headers.get('date')!));
    const listed = (await (await api('/v1/files')).json()) as Page;
    expect(listed.data.map((f) => f.id)).toContain(seeded.id);
    // The beta contract answers the same 404 without details (its envelope has none).
    const beta = await fetch(`${emu.url}/v1/files/${seeded.id}/content`, {
      headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' },
    });
    expect(await errorOf(beta)).toEqual({ status: 404, type: 'not_found_error', code: undefined });
  });

  it('the clock and expire test routes refuse bad input', async () => {
    const post = (route: string, body: unknown) => fetch(`${emu.url}/_emulator/${route}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post('clock', { advance_ms: -1 })).status).toBe(400);
    expect((await post('clock', { advance_ms: 1000 })).status).toBe(200);
    expect((await post('expire', { id: 'file_nope', expires_in_seconds: 10 })).status).toBe(400);
  });
});

describe('GA headers, errors and test routes', () => {
  it('accepts the key as Bearer or x-api-key, and refuses a wrong one', async () => {
    expect((await api('/v1/files')).status).toBe(200);
    expect((await api('/v1/files', { headers: { authorization: '', 'x-api-key': KEY } })).status).toBe(200);
    expect(await errorOf(await api('/v1/files', { headers: { authorization: 'Bearer nope' } }))).toMatchObject({
      status: 401,
      type: 'authentication_error',
    });
  });

  it('sends error.details.error_code only with version 2026-10-21 and only for errors that have one', async () => {
    const f = await uploaded('mine.txt');
    expect(await errorOf(await api(`/v1/files/${f.id}/content`))).toEqual({
      status: 400,
      type: 'invalid_request_error',
      code: 'file_not_downloadable',
    });
    expect(await errorOf(await api(`/v1/files/${f.id}/content`, { headers: { 'anthropic-version': '2023-06-01' } }))).toMatchObject({
      code: undefined,
    });
    expect(await errorOf(await api('/v1/files/file_missing'))).toEqual({
      status: 404,
      type: 'not_found_error',
      code: undefined,
    });
    const small = await startEmulator({ apiKey: KEY, storageQuotaBytes: 4 });
    try {
      const form = new FormData();
      form.append('file', new Blob(['too big for the quota']), 'q.txt');
      const res = await fetch(`${small.url}/v1/files`, { method: 'POST', body: form, headers: GA });
      expect(await errorOf(res)).toEqual({
        status: 400,
        type: 'invalid_request_error',
        code: 'storage_quota_exceeded',
      });
    } finally {
      await small.close();
    }
  });

  it('injects faults and counts requests on GA routes as on beta ones', async () => {
    emu.setFaults({ count500: 1 });
    expect((await api('/v1/files')).status).toBe(500);
    expect((await api('/v1/files')).status).toBe(200);
    expect(emu.state().faults).toEqual({ '500': 1 });
    expect(emu.state().requests['GET /v1/files']).toEqual({ '200': 1, '500': 1 });
  });
});
