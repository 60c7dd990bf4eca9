// Answers read whole through undici's dispatch (src/remote/answer.ts): every call but a download.
// What the streamed `request()` gave must hold here too: one caller's signal ends every request in
// flight on it (through one listener for all, not one each), and an answer is bounded: past
// WHOLE_ANSWER_MAX_BYTES it is malformed, not a heap that grows with whatever the server sends.
import { writeFile } from 'node:fs/promises';
import type http from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WHOLE_ANSWER_MAX_BYTES } from '../../src/remote/answer.js';
import { AbortedError, ResponseFormatError } from '../../src/remote/index.js';
import { client, fileMeta, json, localServer, tempDir } from '../helpers/client-fixtures.js';

/** Answers 200 with a JSON-looking body one byte over the cap, in 1 MiB writes. */
function oversized(_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const mib = Buffer.alloc(1024 * 1024, 0x20);
  let left = WHOLE_ANSWER_MAX_BYTES + 1;
  const more = (): void => {
    while (left > 0) {
      const chunk = mib.subarray(0, Math.min(mib.length, left));
      left -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end();
  };
  res.on('error', () => undefined);
  more();
}

/** Counts the listeners added to and removed from `signal`. */
function countListeners(signal: AbortSignal): { added: number; removed: number } {
  const counts = { added: 0, removed: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>) => {
    counts.added++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    counts.removed++;
    remove(...args);
  };
  return counts;
}

describe('answers read whole', () => {
  it('one abort ends every request in flight on the signal, through one listener', async () => {
    const server = await localServer((req) => req.resume()); // reads the body, never answers
    const dir = await tempDir();
    const c = client(server.url);
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    for (const i of [1, 2, 3]) await writeFile(join(dir, `${i}.txt`), String(i));
    const pending = [1, 2, 3].map((i) =>
      c.upload(join(dir, `${i}.txt`), { filename: `${i}.txt`, mimeType: 'text/plain', signal: controller.signal }).catch((e: unknown) => e),
    );
    while (server.arrivals.length < 3) await new Promise((r) => setImmediate(r));
    controller.abort();
    for (const err of await Promise.all(pending)) {
      expect(err).toBeInstanceOf(AbortedError);
      expect(err).toMatchObject({ attempts: 1, unknownOutcomeAttempts: 1 });
    }
    expect(listeners).toEqual({ added: 1, removed: 1 });
  });

  it("leaves no listener on a signal once its requests settled (a daemon's signals would pile up)", async () => {
    const server = await localServer((_req, res) => json(res, 200, fileMeta('file_1')));
    const c = client(server.url);
    const signal = AbortSignal.any([new AbortController().signal]);
    const listeners = countListeners(signal);
    await Promise.all([c.get('file_1', { signal }), c.get('file_1', { signal })]);
    await c.get('file_1', { signal });
    expect(listeners.added).toBeGreaterThan(0);
    expect(listeners.removed).toBe(listeners.added);
  });

  it('a download aborted while its body streams in is an AbortedError, not a lost answer to retry', async () => {
    const server = await localServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000000' });
      res.write(Buffer.alloc(1000)); // then nothing more
    });
    const dir = await tempDir();
    const controller = new AbortController();
    // One attempt: a lost answer would be final (unavailable), where an abort must say it was one.
    const pending = client(server.url, { maxAttempts: 1 })
      .download('file_1', join(dir, 'out.bin'), { signal: controller.signal })
      .catch((e: unknown) => e);
    while (server.arrivals.length === 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(AbortedError);
    expect(server.arrivals).toHaveLength(1);
  });

  it('an error answer cut off in its body is still judged by its status: a 400 is final, not a lost answer', async () => {
    const server = await localServer((req, res) => {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"type":"error","error":{"type":"invalid_request_error"');
      setTimeout(() => res.destroy(), 20);
    });
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const err = await client(server.url)
      .upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, retryable: false, attempts: 1, unknownOutcomeAttempts: 0 });
    expect(server.arrivals).toHaveLength(1);
  });

  it('an answer over the cap is malformed and final', async () => {
    const server = await localServer(oversized);
    const err = await client(server.url)
      .get('file_1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect(err).toMatchObject({ field: '(body)', retryable: false, attempts: 1 });
    expect((err as Error).message).toMatch(/at most \d+ bytes long/);
    expect(server.arrivals).toHaveLength(1);
  });

  it("an upload's answer over the cap counts an unknown outcome: its copy may be stored", async () => {
    const server = await localServer((req, res) => {
      req.resume();
      req.on('end', () => oversized(req, res));
    });
    const dir = await tempDir();
    await writeFile(join(dir, 'a.txt'), 'a');
    const err = await client(server.url)
      .upload(join(dir, 'a.txt'), { filename: 'a.txt', mimeType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseFormatError);
    expect(err).toMatchObject({ attempts: 1, unknownOutcomeAttempts: 1 });
  });
});
