// The emulator beyond the contract: persistence, faults, rate limit, inspection and seeding,
// streaming uploads, the CLI, and a clean close.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, appendFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimiter, FaultInjector } from '../../src/emulator/faults.js';
import { startEmulator, type Emulator, type EmulatorOptions, type InspectedFile } from '../../src/emulator/index.js';
import { runEmulatorCommand } from '../../src/emulator/main.js';

const KEY = 'sk-emulator-test-key-42';
const HEADERS = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(opts: Partial<EmulatorOptions> = {}): Promise<Emulator> {
  const emu = await startEmulator({ apiKey: KEY, ...opts });
  cleanups.push(() => emu.close());
  return emu;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'files-sync-emulator-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function api(emu: Emulator, route: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${emu.url}${route}`, { ...init, headers: { ...HEADERS, ...init.headers } });
}

async function upload(emu: Emulator, name: string, content: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([content], { type: 'text/plain' }), name);
  return api(emu, '/v1/files?beta=true', { method: 'POST', body: form, headers });
}

async function uploadOk(emu: Emulator, name: string, content: string): Promise<{ id: string; created_at: string }> {
  const res = await upload(emu, name, content);
  expect(res.status).toBe(200);
  return (await res.json()) as { id: string; created_at: string };
}

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function admin(emu: Emulator, route: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(
    `${emu.url}/_emulator/${route}`,
    body === undefined ? { method } : { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
  );
}

describe('storage', () => {
  it('keeps files, tombstones and order across a restart on the same dataDir', async () => {
    const dataDir = await tempDir();
    const first = await startEmulator({ apiKey: KEY, dataDir });
    const a = await uploadOk(first, 'a.txt', 'alpha');
    const b = await uploadOk(first, 'b.txt', 'bravo');
    const c = await uploadOk(first, 'c.txt', 'charlie');
    expect((await api(first, `/v1/files/${b.id}`, { method: 'DELETE' })).status).toBe(200);
    const seeded = first.seed({
      filename: 'out.csv',
      content_base64: Buffer.from('x,y\n1,2\n').toString('base64'),
      downloadable: true,
      owner: 'code-execution',
    });
    const before = first.state().files;
    await first.close();
    await first.close(); // idempotent
    // A crash mid-append leaves a torn last line; it is skipped.
    await appendFile(path.join(dataDir, 'index.jsonl'), '{"op":"put","file":{"id":"file_torn');

    const second = await start({ dataDir });
    expect(second.state().files).toEqual(before);
    expect(before.map((f) => f.id)).toEqual([a.id, c.id, seeded.id]);
    expect(before.find((f) => f.id === a.id)).toMatchObject({ sha256: sha256('alpha'), size_bytes: 5, owner: 'self' });
    const listed = (await (await api(second, '/v1/files')).json()) as { data: { id: string }[] };
    expect(listed.data.map((f) => f.id)).toEqual([seeded.id, c.id, a.id]);
    const download = await api(second, `/v1/files/${seeded.id}/content`);
    expect(Buffer.from(await download.arrayBuffer()).toString()).toBe('x,y\n1,2\n');
    // The deleted id still places a cursor: after it come the files older than it.
    const after = (await (await api(second, `/v1/files?after_id=${b.id}`)).json()) as { data: { id: string }[] };
    expect(after.data.map((f) => f.id)).toEqual([a.id]);
    expect((await api(second, `/v1/files/${b.id}`)).status).toBe(404);
    const d = await uploadOk(second, 'd.txt', 'delta');
    expect(d.created_at > (before.at(-1)?.created_at ?? '')).toBe(true);
    expect((await readdir(path.join(dataDir, 'content'))).sort()).toEqual([a.id, c.id, seeded.id, d.id].sort());
  });

  it('gives strictly increasing created_at under concurrent uploads, newest first in the list', async () => {
    const emu = await start();
    await Promise.all(Array.from({ length: 20 }, (_, i) => uploadOk(emu, `p${i}.txt`, `content ${i}`)));
    const page = (await (await api(emu, '/v1/files?limit=100')).json()) as { data: { created_at: string }[] };
    const stamps = page.data.map((f) => f.created_at);
    expect(stamps).toHaveLength(20);
    for (let i = 1; i < stamps.length; i++) expect((stamps[i - 1] ?? '') > (stamps[i] ?? '')).toBe(true);
  });

  it('refuses an upload over the storage quota with 400 (details only for API version 2026-10-21)', async () => {
    const emu = await start({ storageQuotaBytes: 100 });
    expect((await upload(emu, 'a.txt', 'x'.repeat(60))).status).toBe(200);
    const over = await upload(emu, 'b.txt', 'x'.repeat(60));
    expect(over.status).toBe(400);
    const body = (await over.json()) as { error: { type: string; message: string; details?: unknown } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(body.error.message).toMatch(/storage limit/i);
    expect(body.error.details).toBeUndefined();
    const ga = await upload(emu, 'b.txt', 'x'.repeat(60), { 'anthropic-version': '2026-10-21' });
    expect(((await ga.json()) as { error: { details: unknown } }).error.details).toEqual({
      error_code: 'storage_quota_exceeded',
    });
    expect(emu.state().files).toHaveLength(1);
  });

  it('streams a 50 MB upload to disk with the right size and sha256', async () => {
    const dataDir = await tempDir();
    const emu = await start({ dataDir });
    const size = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    const hash = createHash('sha256');
    const boundary = 'big-upload-boundary-0123456789';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(head);
      },
      pull(controller) {
        if (sent >= size) {
          controller.enqueue(tail);
          controller.close();
          return;
        }
        for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((sent + i) >>> 0, i);
        const piece = Buffer.from(chunk);
        hash.update(piece);
        sent += piece.length;
        controller.enqueue(piece);
      },
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const res = await api(emu, '/v1/files', {
      method: 'POST',
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      duplex: 'half',
    });
    expect(res.status).toBe(200);
    const meta = (await res.json()) as { id: string; size_bytes: number };
    expect(meta.size_bytes).toBe(size);
    expect(emu.state().files[0]).toMatchObject({ id: meta.id, size_bytes: size, sha256: hash.digest('hex') });
    expect((await stat(path.join(dataDir, 'content', meta.id))).size).toBe(size);
    // Not a memory benchmark, only a guard against buffering the whole file.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(size);
    expect(await readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });

  it('keeps nothing when the client goes away mid-upload', async () => {
    const dataDir = await tempDir();
    const emu = await start({ dataDir });
    const boundary = 'abort-boundary-42';
    await new Promise<void>((resolve) => {
      const req = http.request(`${emu.url}/v1/files`, {
        method: 'POST',
        headers: {
          ...HEADERS,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': '100000',
        },
      });
      req.on('error', () => resolve());
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.bin"\r\n\r\n${'z'.repeat(5000)}`);
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    await expect.poll(() => emu.state().requests['POST /v1/files']?.aborted).toBe(1);
    expect(emu.state().files).toEqual([]);
    await expect.poll(() => readdir(path.join(dataDir, 'tmp'))).toEqual([]);
  });
});

describe('faults', () => {
  it('forgets an upload whose client left during injected latency, and still closes at once', async () => {
    const emu = await startEmulator({ apiKey: KEY, faults: { latencyMs: 300 } });
    await new Promise<void>((resolve) => {
      const req = http.request(`${emu.url}/v1/files`, {
        method: 'POST',
        headers: { ...HEADERS, 'content-type': 'multipart/form-data; boundary=b', 'content-length': '100000' },
      });
      req.on('error', () => undefined);
      req.write('--b\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n\r\nabc');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    await expect.poll(() => emu.state().requests['POST /v1/files']).toEqual({ aborted: 1 });
    await closesBeforeKeepAlive(emu);
  });

  it('injects counted faults in order, with retry-after on 429s, and counts them', async () => {
    const emu = await start({ faults: { count429: 2, count500: 1, count529: 1, retryAfterSeconds: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await api(emu, '/v1/files');
      statuses.push(res.status);
      if (res.status === 429) expect(res.headers.get('retry-after')).toBe('3');
      const body = (await res.json()) as { error?: { type: string } };
      if (res.status === 529) expect(body.error?.type).toBe('overloaded_error');
      if (res.status === 500) expect(body.error?.type).toBe('api_error');
      // Test routes never draw faults.
      expect((await admin(emu, 'state')).status).toBe(200);
    }
    expect(statuses).toEqual([429, 429, 500, 529, 200]);
    expect(emu.state().faults).toEqual({ 429: 2, 500: 1, 529: 1 });
    expect(emu.state().requests['GET /v1/files']).toEqual({ 200: 1, 429: 2, 500: 1, 529: 1 });
    emu.resetCounters();
    expect(emu.state()).toMatchObject({ requests: {}, faults: {} });
  });

  it('injects shares with a seedable PRNG, repeatably', async () => {
    const emu = await start();
    const run = async (): Promise<number[]> => {
      expect((await admin(emu, 'faults', 'PUT', { rate500: 0.3, rate529: 0.2, seed: 7 })).status).toBe(204);
      const out: number[] = [];
      for (let i = 0; i < 100; i++) out.push((await api(emu, '/v1/files?limit=1')).status);
      return out;
    };
    const one = await run();
    const two = await run();
    expect(two).toEqual(one);
    const count = (s: number): number => one.filter((x) => x === s).length;
    expect(count(500)).toBeGreaterThan(15);
    expect(count(500)).toBeLessThan(45);
    expect(count(529)).toBeGreaterThan(8);
    expect(count(529)).toBeLessThan(35);
    expect(count(200) + count(500) + count(529)).toBe(100);
    const injector = new FaultInjector({ rate429: 1 });
    expect(injector.nextStatus()).toEqual({ status: 429, retryAfterSeconds: 1 });
  });

  it('refuses invalid fault settings on the test route and in code', async () => {
    const emu = await start();
    expect((await admin(emu, 'faults', 'PUT', { rate500: 2 })).status).toBe(400);
    expect((await admin(emu, 'faults', 'PUT', { nonsense: 1 })).status).toBe(400);
    expect(() => emu.setFaults({ count429: -1 })).toThrow(TypeError);
  });

  it('adds latency to API answers only', async () => {
    const emu = await start({ faults: { latencyMs: 150 } });
    const t = performance.now();
    expect((await api(emu, '/v1/files')).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
    // An admin call answers while an API call still waits out its latency.
    emu.setFaults({ latencyMs: 60_000 });
    let apiAnswered = false;
    const slow = api(emu, '/v1/files').then(
      () => (apiAnswered = true),
      () => undefined,
    );
    expect((await admin(emu, 'state')).status).toBe(200);
    expect(apiAnswered).toBe(false);
    await emu.close();
    await slow;
  });

  it('resets the connection mid-upload and stores nothing', async () => {
    const dataDir = await tempDir();
    const emu = await start({ dataDir, faults: { resetMidUpload: 1 } });
    await expect(upload(emu, 'reset.txt', 'r'.repeat(200_000))).rejects.toThrow();
    await expect(upload(emu, 'reset-small.txt', 'tiny')).rejects.toThrow();
    expect(emu.state().files).toEqual([]);
    expect(emu.state().faults).toEqual({ reset: 2 });
    expect(emu.state().requests['POST /v1/files']).toEqual({ reset: 2 });
    await expect.poll(() => readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    // Other routes are unaffected, and clearing the faults ends it.
    expect((await api(emu, '/v1/files')).status).toBe(200);
    emu.setFaults({});
    expect((await upload(emu, 'fine.txt', 'ok')).status).toBe(200);
  });

  it('stores the upload and then loses the answer', async () => {
    const emu = await start({ faults: { lostUploadAnswer: 1 } });
    await expect(upload(emu, 'lost.txt', 'stored anyway')).rejects.toThrow();
    const files = emu.state().files;
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ filename: 'lost.txt', sha256: sha256('stored anyway'), owner: 'self' });
    expect(emu.state().faults).toEqual({ lost_answer: 1 });
    expect(emu.state().requests['POST /v1/files']).toEqual({ lost: 1 });
    // The file is there for the listing a client reconciles with.
    const list = (await (await api(emu, '/v1/files')).json()) as { data: { id: string }[] };
    expect(list.data.map((f) => f.id)).toEqual([files[0]?.id]);
  });
});

describe('rate limit', () => {
  it('answers 429 rate_limit_error with retry-after once the window is full', async () => {
    const emu = await start({ rateLimit: { requests: 3, windowMs: 400 } });
    for (let i = 0; i < 3; i++) expect((await api(emu, '/v1/files')).status).toBe(200);
    const limited = await api(emu, '/v1/files');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(((await limited.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect(emu.state().faults).toEqual({ rate_limit: 1 });
    await new Promise((r) => setTimeout(r, 450));
    expect((await api(emu, '/v1/files')).status).toBe(200);
    expect((await admin(emu, 'rate-limit', 'PUT', null)).status).toBe(204);
    for (let i = 0; i < 5; i++) expect((await api(emu, '/v1/files')).status).toBe(200);
    expect((await admin(emu, 'rate-limit', 'PUT', { requests: 0 })).status).toBe(400);
  });

  it('is a sliding window: a slot frees when the oldest request leaves it', () => {
    let now = 0;
    const limiter = new RateLimiter({ requests: 2, windowMs: 60_000 }, () => now);
    expect(limiter.take()).toBeUndefined(); // t=0
    now = 30_000;
    expect(limiter.take()).toBeUndefined(); // t=30s
    now = 45_000;
    expect(limiter.take()).toBe(15); // until the t=0 request leaves at 60s
    now = 60_000;
    expect(limiter.take()).toBeUndefined();
    now = 60_500;
    expect(limiter.take()).toBe(30); // ceil(29.5 s) until the t=30s request leaves
  });
});

describe('inspection and seeding', () => {
  it('seeds over HTTP, shows owners, filters by scope_id and validates seeds', async () => {
    const emu = await start();
    const mine = await uploadOk(emu, 'mine.txt', 'mine');
    const res = await admin(emu, 'seed', 'POST', {
      filename: 'theirs.pdf',
      content_base64: Buffer.from('%PDF').toString('base64'),
      mime_type: 'application/pdf',
      owner: 'other-app',
    });
    expect(res.status).toBe(200);
    const theirs = (await res.json()) as InspectedFile;
    expect(theirs).toMatchObject({
      filename: 'theirs.pdf',
      owner: 'other-app',
      downloadable: false,
      size_bytes: 4,
      sha256: sha256('%PDF'),
    });
    const scoped = emu.seed({ filename: 'session-out.txt', content_base64: '', scope_id: 'session_123' });
    expect(scoped.scope_id).toBe('session_123');
    const state = (await (await admin(emu, 'state')).json()) as { files: InspectedFile[] };
    expect(state.files.map((f) => [f.id, f.owner])).toEqual([
      [mine.id, 'self'],
      [theirs.id, 'other-app'],
      [scoped.id, 'another-application'],
    ]);
    const inScope = (await (await api(emu, '/v1/files?scope_id=session_123')).json()) as {
      data: { id: string; scope: unknown }[];
    };
    expect(inScope.data).toHaveLength(1);
    expect(inScope.data[0]).toMatchObject({ id: scoped.id, scope: { id: 'session_123', type: 'session' } });
    const all = (await (await api(emu, '/v1/files')).json()) as { data: { scope: unknown }[] };
    expect(all.data.map((f) => f.scope)).toEqual([{ id: 'session_123', type: 'session' }, null, null]);
    expect((await admin(emu, 'seed', 'POST', { filename: '', content_base64: '' })).status).toBe(400);
    expect((await admin(emu, 'seed', 'POST', { filename: 'x', content_base64: '***' })).status).toBe(400);
    expect((await admin(emu, 'nothing')).status).toBe(404);
    const counters = await admin(emu, 'reset-counters', 'POST');
    expect(counters.status).toBe(204);
    expect(counters.headers.get('request-id')).toMatch(/^req_/);
    expect(emu.state().requests).toEqual({});
  });

  it('answers the counters without the file list (a million files would be a 250 MB state answer)', async () => {
    const emu = await start();
    await uploadOk(emu, 'a.txt', 'abc');
    await uploadOk(emu, 'b.txt', 'defgh');
    expect((await api(emu, '/v1/files?limit=1000')).status).toBe(200);
    const res = await admin(emu, 'counters');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      requests: { 'POST /v1/files': { '200': 2 }, 'GET /v1/files': { '200': 1 } },
      faults: {},
      files: 2,
      bytes: 8,
    });
  });
});

describe('lifecycle and CLI', () => {
  it('closes keep-alive connections at once', async () => {
    const emu = await startEmulator({ apiKey: KEY });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${emu.url}/v1/files`, { agent, headers: HEADERS }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
    await closesBeforeKeepAlive(emu);
    agent.destroy();
  });

  it('runs from the command line, prints where it listens and the two exports, and stops cleanly', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const stop = new AbortController();
    const done = runEmulatorCommand(
      ['--port', '0', '--api-key', 'sk-cli-key', '--rate-limit', '100/60000', '--latency-ms', '0'],
      {},
      { stdout, stderr, signal: stop.signal },
    );
    await expect.poll(() => out).toMatch(/\n$/);
    const m =
      /^files-sync emulator listening on (http:\/\/127\.0\.0\.1:(\d+))\nto use it, in another shell:\n {2}export ANTHROPIC_BASE_URL=\1\n {2}export ANTHROPIC_API_KEY='<the key given with --api-key>'\n$/.exec(
        out,
      );
    expect(m).not.toBeNull();
    const res = await fetch(`${m?.[1]}/v1/files`, { headers: { ...HEADERS, 'x-api-key': 'sk-cli-key' } });
    expect(res.status).toBe(200);
    stop.abort();
    expect(await done).toBe(0);
    await expect(fetch(`${m?.[1]}/v1/files`)).rejects.toThrow();
  });

  it('takes the key from FILES_SYNC_EMULATOR_KEY, else the default test key', async () => {
    for (const [env, key] of [
      [{ FILES_SYNC_EMULATOR_KEY: 'sk-from-env' }, 'sk-from-env'],
      [{}, 'sk-emulator-local'],
    ] as const) {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const stop = new AbortController();
      const done = runEmulatorCommand([], env, { stdout, stderr: new PassThrough(), signal: stop.signal });
      await expect.poll(() => out).toMatch(/\n$/);
      const url = /listening on (\S+)/.exec(out)?.[1] ?? '';
      expect((await fetch(`${url}/v1/files`, { headers: { ...HEADERS, 'x-api-key': key } })).status).toBe(200);
      stop.abort();
      expect(await done).toBe(0);
    }
  });

  it('refuses unknown options and bad values with exit code 2', async () => {
    for (const argv of [['--nope'], ['--port', 'abc'], ['--rate-limit', '5/x'], ['stray']]) {
      const stderr = new PassThrough();
      let err = '';
      stderr.on('data', (d: Buffer) => (err += d.toString()));
      expect(await runEmulatorCommand(argv, {}, { stdout: new PassThrough(), stderr })).toBe(2);
      expect(err).toMatch(/^files-sync emulator: /);
    }
  });
});

/**
 * Closes `emu` and checks that the close did not wait for an idle keep-alive connection to time
 * out (5 s on the emulator's server): a generous bound, so a loaded machine cannot fail it.
 */
async function closesBeforeKeepAlive(emu: Emulator): Promise<void> {
  const t = performance.now();
  await emu.close();
  expect(performance.now() - t).toBeLessThan(4_000);
}
