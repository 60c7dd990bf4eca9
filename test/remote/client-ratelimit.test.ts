// The client-side rate limiter keeps a burst under the server's limit without serialising requests.
import { expect, it } from 'vitest';
import { client, emulator, fileMeta, json, localServer } from '../helpers/client-fixtures.js';

it('a burst of 50 calls through a 10-per-second client limit sees no 429 and waits at least 4 windows', async () => {
  // The server counts 10 per half second: the headroom absorbs the event loop's delay between the
  // client's send and the server's count, which client and server share in this one process (a
  // stalled loop delivers one window's requests late, into the next one's).
  const emu = await emulator({ rateLimit: { requests: 10, windowMs: 500 } });
  const seeded = emu.seed({ filename: 'a.txt', content_base64: Buffer.from('a').toString('base64') });
  const c = client(emu.url, { requestsPerMinute: 10, rateLimitWindowMs: 1_000 });

  const started = performance.now();
  await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 5 === 0 ? drain(c.list()) : c.get(seeded.id))));
  const elapsed = performance.now() - started;

  const state = emu.state();
  expect(state.faults.rate_limit ?? 0).toBe(0);
  expect(state.requests['GET /v1/files/{id}']?.['200']).toBe(40);
  expect(c.stats).toMatchObject({ requests: 50, rateLimited: 0, retries: 0 });
  // 50 requests at 10 per window: the last 10 leave after 4 full windows. (How soon they leave is
  // the limiter's unit test, on a fake clock: a wall clock on a busy machine only bounds it below.)
  expect(elapsed).toBeGreaterThanOrEqual(3_500);
}, 30_000);

it('the limiter spaces requests but does not serialise them: 8 held calls are all in flight at once', async () => {
  // The server answers none until all 8 have arrived: a client that sent them one at a time would
  // never get past the first.
  const held: (() => void)[] = [];
  let allArrived: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (allArrived = resolve));
  const server = await localServer((_req, res) => {
    held.push(() => json(res, 200, fileMeta('file_a')));
    if (held.length === 8) {
      for (const answer of held) answer();
      allArrived();
    }
  });
  const c = client(server.url, { requestsPerMinute: 100, rateLimitWindowMs: 60_000 });

  const calls = Promise.all(Array.from({ length: 8 }, () => c.get('file_a')));
  await Promise.race([arrived, calls.then(() => undefined)]);
  expect(server.arrivals).toHaveLength(8);
  expect((await calls).map((f) => f.id)).toEqual(Array(8).fill('file_a'));
});

async function drain(files: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of files) n++;
  return n;
}
