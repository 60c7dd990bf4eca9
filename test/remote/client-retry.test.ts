// The retry policy and failure classification against a local node:http server the test controls.
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { AbortedError, ApiError, LocalFileError, ResponseFormatError, UnavailableError } from '../../src/remote/index.js';
import { apiError, client, fileMeta, json, localServer, tempDir } from '../helpers/client-fixtures.js';

/** Milliseconds between the first and second request the server saw. */
const gap = (arrivals: number[]) => (arrivals[1] ?? NaN) - (arrivals[0] ?? NaN);

describe('retry policy', () => {
  it('x-should-retry: false on a 500 is not retried', async () => {
    const server = await localServer((_req, res) => json(res, 500, apiError('api_error', 'boom'), { 'x-should-retry': 'false' }));
    const err = await client(server.url)
      .get('file_1')
      .catch((e: unknown) => e);
    expect(server.arrivals).toHaveLength(1);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).not.toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({
      status: 500,
      type: 'api_error',
      retryable: false,
      attempts: 1,
      requestId: 'req_local',
    });
  });

  it('x-should-retry: true makes a 400 retryable', async () => {
    const server = await localServer((_req, res, n) =>
      n === 1
        ? json(res, 400, apiError('invalid_request_error', 'try again'), { 'x-should-retry': 'true' })
        : json(res, 200, fileMeta('file_1')),
    );
    await expect(client(server.url).get('file_1')).resolves.toMatchObject({ id: 'file_1' });
    expect(server.arrivals).toHaveLength(2);
  });

  it('a 400 is not retried and keeps the API message and request id', async () => {
    const server = await localServer((_req, res) => json(res, 400, apiError('invalid_request_error', 'bad filename')));
    const err = await client(server.url)
      .get('file_1')
      .catch((e: unknown) => e);
    expect(server.arrivals).toHaveLength(1);
    expect(err).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      retryable: false,
      exitCode: ExitCode.fileFailures,
    });
    expect((err as Error).message).toBe('get file_1 failed: 400 invalid_request_error: bad filename (request req_local)');
  });

  it('honours retry-after-ms', async () => {
    const server = await localServer((_req, res, n) =>
      n === 1 ? json(res, 529, apiError('overloaded_error', 'busy'), { 'retry-after-ms': '300' }) : json(res, 200, fileMeta('file_1')),
    );
    await client(server.url).get('file_1');
    expect(gap(server.arrivals)).toBeGreaterThanOrEqual(290);
  });

  it('honours retry-after as an HTTP date', async () => {
    const server = await localServer((_req, res, n) =>
      n === 1
        ? json(res, 503, apiError('api_error', 'later'), { 'retry-after': new Date(Date.now() + 2_000).toUTCString() })
        : json(res, 200, fileMeta('file_1')),
    );
    // Without the date the back-off would be 5 ms at most; the date (1 s resolution) asks for 1-2 s.
    await client(server.url).get('file_1');
    expect(gap(server.arrivals)).toBeGreaterThanOrEqual(900);
  });

  it('caps a server-requested wait at maxServerWaitMs', async () => {
    const server = await localServer((_req, res, n) =>
      n === 1 ? json(res, 429, apiError('rate_limit_error', 'slow down'), { 'retry-after': '3600' }) : json(res, 200, fileMeta('file_1')),
    );
    const c = client(server.url, { retry: { baseDelayMs: 1, maxServerWaitMs: 50 } });
    await c.get('file_1');
    expect(gap(server.arrivals)).toBeLessThan(1_000);
    expect(c.stats).toMatchObject({ rateLimited: 1, retries: 1, requests: 2 });
  });

  it('a 429 without retry-after backs off on the long scale', async () => {
    const server = await localServer((_req, res, n) =>
      n === 1 ? json(res, 429, apiError('rate_limit_error', 'cap')) : json(res, 200, fileMeta('file_1')),
    );
    await client(server.url, { retry: { baseDelayMs: 1, rateLimitBaseDelayMs: 400 } }).get('file_1');
    expect(gap(server.arrivals)).toBeGreaterThanOrEqual(290); // 400 ms × jitter in (0.75, 1]
  });

  it('gives up after maxAttempts with UnavailableError (exit 5) naming the attempts', async () => {
    const server = await localServer((_req, res) => json(res, 500, apiError('api_error', 'down')));
    const err = await client(server.url, { maxAttempts: 3 })
      .get('file_1')
      .catch((e: unknown) => e);
    expect(server.arrivals).toHaveLength(3);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ status: 500, attempts: 3, retryable: true, exitCode: ExitCode.unavailable });
    expect((err as Error).message).toMatch(/^remote unavailable after 3 attempts: get file_1: 500 api_error: down/);
    expect((err as Error).message).not.toMatch(/nothing answered/);
  });

  it('a refused connection ends in UnavailableError with no unknown outcome (nothing was sent)', async () => {
    const server = await localServer(() => undefined);
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const url = server.url.replace(/:\d+$/, ':1'); // port 1: nothing listens
    const err = await client(url, { maxAttempts: 2 })
      .upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({
      type: 'connection_error',
      status: undefined,
      attempts: 2,
      unknownOutcomeAttempts: 0,
      exitCode: ExitCode.unavailable,
    });
    expect((err as Error).message).toMatch(/remote unavailable after 2 attempts: .*ECONNREFUSED/);
    // Nothing answered: the message says where to look (an API that answers 5xx does not get this).
    expect((err as Error).message).toMatch(
      /nothing answered: check the network \(proxy, firewall, DNS\) and api\.baseUrl or ANTHROPIC_BASE_URL$/,
    );
  });

  it('an upload whose connection drops after the body was read counts as an unknown outcome, also on the final error', async () => {
    const server = await localServer((req) => {
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a'.repeat(10_000));
    const err = await client(server.url, { maxAttempts: 3 })
      .upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(server.arrivals).toHaveLength(3);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ unknownOutcomeAttempts: 3, attempts: 3 });
  });

  it('an upload refused (429, 503, 529) is a known outcome; a 408, 500, 502 or 504 may come after the file was stored', async () => {
    const statuses = [429, 503, 529, 408, 500, 502, 504];
    const server = await localServer((req, res, n) => {
      req.resume();
      req.on('end', () =>
        n <= statuses.length
          ? json(res, statuses[n - 1]!, apiError('api_error', 'x'), { 'retry-after-ms': '1' })
          : json(res, 200, fileMeta('file_ok', { filename: 'a.txt', size_bytes: 1 })),
      );
    });
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const result = await client(server.url, { maxAttempts: 10 }).upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' });
    expect(result).toMatchObject({ attempts: 8, unknownOutcomeAttempts: 4, file: { id: 'file_ok' } });
  });

  it('times out waiting for an answer, retries, then reports a timeout_error', async () => {
    const server = await localServer(() => undefined); // never answers
    const err = await client(server.url, { maxAttempts: 2, timeouts: { responseMs: 150 } })
      .get('file_1')
      .catch((e: unknown) => e);
    expect(server.arrivals).toHaveLength(2);
    expect(err).toMatchObject({ name: 'UnavailableError', type: 'timeout_error', attempts: 2 });
  });

  it('an abort during a back-off wait ends the call at once with AbortedError', async () => {
    const server = await localServer((_req, res) => json(res, 529, apiError('overloaded_error', 'busy'), { 'retry-after': '30' }));
    const controller = new AbortController();
    const pending = client(server.url).get('file_1', { signal: controller.signal });
    while (server.arrivals.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort(new Error('shutting down'));
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(err).toMatchObject({ name: 'AbortError', type: 'aborted' });
    expect(server.arrivals).toHaveLength(1);
  });

  it('a non-JSON error page keeps the status and a line of the text', async () => {
    const server = await localServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    });
    const err = await client(server.url, { maxAttempts: 1 })
      .get('file_1')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, type: 'api_error' });
    expect((err as Error).message).toContain('Bad gateway');
  });
});

describe('answers are validated', () => {
  it('a malformed metadata answer is a ResponseFormatError naming the field', async () => {
    const server = await localServer((_req, res) => json(res, 200, fileMeta('file_1', { size_bytes: 'big' })));
    const err = await client(server.url)
      .get('file_1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect(err).toMatchObject({ field: 'size_bytes', retryable: false, requestId: 'req_local' });
    expect((err as Error).message).toMatch(/size_bytes/);
  });

  it('a malformed upload answer counts as an unknown outcome (the file was stored)', async () => {
    const server = await localServer((req, res) => {
      req.resume();
      req.on('end', () => json(res, 200, { id: 42 }));
    });
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const err = await client(server.url)
      .upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ResponseFormatError', field: 'id', unknownOutcomeAttempts: 1 });
  });

  it('a listing that repeats its cursor stops with an error instead of looping', async () => {
    // Each page has new files, but the second hands out the first's cursor again.
    const server = await localServer((req, res) =>
      req.url?.includes('after_id')
        ? json(res, 200, { data: [fileMeta('file_b')], has_more: true, first_id: 'file_b', last_id: 'file_a' })
        : json(res, 200, { data: [fileMeta('file_a')], has_more: true, first_id: 'file_a', last_id: 'file_a' }),
    );
    const err = await (async () => {
      for await (const _ of client(server.url).list());
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect((err as Error).message).toMatch(/it repeats a cursor already used \(file_a\); stopping instead of looping/);
    expect(err).toMatchObject({ exitCode: 5 });
    expect(server.arrivals).toHaveLength(2);
  });

  it('a listing that hands the same page out under fresh cursors stops instead of going on for ever', async () => {
    const server = await localServer((_req, res, n) =>
      json(res, 200, { data: [fileMeta('file_a'), fileMeta('file_b')], next_page: `page_${n}` }),
    );
    const err = await (async () => {
      for await (const _ of client(server.url, { contract: 'ga' }).list());
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect((err as Error).message).toMatch(/it repeats pages with nothing new \(11 in a row\)/);
    expect(err).toMatchObject({ exitCode: 5 });
    expect(server.arrivals).toHaveLength(12);
  });

  it('a listing whose pages come round again under fresh cursors (A, B, A, B…) hands each file out once and stops', async () => {
    // Each page is new against the page before it; only the listing as a whole goes round. The
    // server ends after 200 pages so that a client that does not notice still finishes.
    const round = [
      [fileMeta('file_a'), fileMeta('file_b')],
      [fileMeta('file_c'), fileMeta('file_d')],
    ];
    const server = await localServer((_req, res, n) =>
      json(res, 200, { data: round[(n - 1) % 2], next_page: n < 200 ? `page_${n}` : null }),
    );
    const seen: string[] = [];
    const err = await (async () => {
      for await (const f of client(server.url, { contract: 'ga' }).list()) seen.push(f.id);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['file_a', 'file_b', 'file_c', 'file_d']);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect((err as Error).message).toMatch(/it repeats pages with nothing new \(11 in a row\)/);
    expect(err).toMatchObject({ exitCode: 5 });
    expect(server.arrivals).toHaveLength(13);
  });

  it('a GA listing of empty pages under fresh cursors stops after a few, instead of going on for ever', async () => {
    const server = await localServer((_req, res, n) => json(res, 200, { data: [], next_page: `page_${n}` }));
    const err = await (async () => {
      for await (const _ of client(server.url, { contract: 'ga' }).list());
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect((err as Error).message).toMatch(/it repeats pages with nothing new \(11 in a row\)/);
    expect(server.arrivals).toHaveLength(11);
  });

  it('pages with nothing new that end the listing, or come before new files, are no loop', async () => {
    const pages: Record<string, unknown>[][] = [
      [
        { data: [fileMeta('file_a'), fileMeta('file_b')], next_page: 'page_1' },
        { data: [fileMeta('file_b')], next_page: null },
      ],
      [
        { data: [fileMeta('file_a')], next_page: 'page_1' },
        { data: [fileMeta('file_a')], next_page: 'page_2' },
        { data: [fileMeta('file_b')], next_page: null },
      ],
      [...Array.from({ length: 10 }, (_, i) => ({ data: [], next_page: `page_${i + 1}` })), { data: [], next_page: null }],
    ];
    for (const [i, expected] of [['file_a', 'file_b'], ['file_a', 'file_b'], []].entries()) {
      const server = await localServer((_req, res, n) => json(res, 200, pages[i]![n - 1]!));
      const seen: string[] = [];
      for await (const f of client(server.url, { contract: 'ga' }).list()) seen.push(f.id);
      expect(seen).toEqual(expected);
    }
  });

  it('a file met again on the next page (an offset pager on a busy workspace) is handed out once, and the listing goes on', async () => {
    const server = await localServer((req, res) =>
      req.url?.includes('page=page_2')
        ? json(res, 200, { data: [fileMeta('file_b'), fileMeta('file_c')], next_page: null })
        : json(res, 200, { data: [fileMeta('file_a'), fileMeta('file_b')], next_page: 'page_2' }),
    );
    const seen: string[] = [];
    for await (const f of client(server.url, { contract: 'ga' }).list()) seen.push(f.id);
    expect(seen).toEqual(['file_a', 'file_b', 'file_c']);
  });

  it('a beta listing whose empty page says has_more fails, rather than end short', async () => {
    const server = await localServer((req, res) =>
      req.url?.includes('after_id')
        ? json(res, 200, { data: [], has_more: true, first_id: null, last_id: null })
        : json(res, 200, { data: [fileMeta('file_a')], has_more: true, first_id: 'file_a', last_id: 'file_a' }),
    );
    const seen: string[] = [];
    const err = await (async () => {
      for await (const f of client(server.url).list()) seen.push(f.id);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['file_a']);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect(err).toMatchObject({ field: 'data', exitCode: 5 });
  });

  it('a GA listing goes on past an empty page while next_page is given, as the 1.x SDK does', async () => {
    const server = await localServer((req, res) => {
      if (req.url?.includes('page=page_2')) return json(res, 200, { data: [fileMeta('file_b')], next_page: null });
      if (req.url?.includes('page=page_1')) return json(res, 200, { data: [], next_page: 'page_2' });
      return json(res, 200, { data: [fileMeta('file_a')], next_page: 'page_1' });
    });
    const seen: string[] = [];
    for await (const f of client(server.url, { contract: 'ga' }).list()) seen.push(f.id);
    expect(seen).toEqual(['file_a', 'file_b']);
  });
});

describe('connections', () => {
  it('50 sequential requests reuse a keep-alive connection', async () => {
    const server = await localServer((_req, res) => json(res, 200, fileMeta('file_1')));
    const c = client(server.url);
    for (let i = 0; i < 50; i++) await c.get('file_1');
    expect(server.arrivals).toHaveLength(50);
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it('sends the beta contract headers and ?beta=true', async () => {
    const server = await localServer((_req, res) => json(res, 200, fileMeta('file_1')));
    await client(server.url).get('file_1');
    expect(server.headers[0]).toMatchObject({
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'files-api-2025-04-14',
      'x-api-key': expect.any(String),
    });
    expect(server.headers[0]?.authorization).toBeUndefined();
  });
});

describe('uploads and downloads in trouble', () => {
  it('an upload aborted while waiting for its answer is an AbortedError counting one unknown outcome', async () => {
    const server = await localServer((req) => req.resume()); // reads the body, never answers
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const controller = new AbortController();
    const pending = client(server.url).upload(join(dir, 'a.txt'), {
      filename: 'a.txt',
      mimeType: 'text/plain',
      signal: controller.signal,
    });
    while (server.arrivals.length === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(err).toMatchObject({ attempts: 1, unknownOutcomeAttempts: 1 });
  });

  it('an upload aborted before it starts sends nothing', async () => {
    const server = await localServer((_req, res) => json(res, 200, fileMeta('file_1')));
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const err = await client(server.url)
      .upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain', signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', attempts: 0, unknownOutcomeAttempts: 0 });
    expect(server.arrivals).toHaveLength(0);
  });

  it('a file that changes while it is sent is a LocalFileError (changed), not retried', async () => {
    const dir = await tempDir();
    const path = join(dir, 'big.bin');
    await writeFile(path, Buffer.alloc(8 * 1024 * 1024, 1));
    const server = await localServer((req) => {
      req.pause();
      void appendFile(path, 'more').then(() => req.resume());
    });
    const err = await client(server.url)
      .upload(path, { filename: 'big.bin', mimeType: 'application/octet-stream' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalFileError);
    expect(err).toMatchObject({ code: 'changed', attempts: 1, retryable: false });
    expect(server.arrivals).toHaveLength(1);
  });

  it('a download cut off mid-body is retried from the start', async () => {
    const content = Buffer.alloc(200_000, 7);
    const server = await localServer((_req, res, n) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': content.length });
      if (n === 1) res.write(content.subarray(0, 50_000), () => res.destroy());
      else res.end(content);
    });
    const dir = await tempDir();
    const target = join(dir, 'out.bin');
    await expect(client(server.url).download('file_1', target)).resolves.toEqual({ bytes: content.length });
    expect((await readFile(target)).equals(content)).toBe(true);
    expect(await readdir(dir)).toEqual(['out.bin']);
    expect(server.arrivals).toHaveLength(2);
  });

  it('a download into a missing folder is a LocalFileError, not retried', async () => {
    const server = await localServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 3 });
      res.end('abc');
    });
    const dir = await tempDir();
    const err = await client(server.url)
      .download('file_1', join(dir, 'missing', 'out.bin'))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'LocalFileError', code: 'ENOENT' });
    expect(server.arrivals).toHaveLength(1);
  });
});
