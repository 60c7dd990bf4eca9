// The client-side rate limiter keeps a burst under the server's limit without serialising requests.
import { expect, it } from 'vitest';
import { client, emulator } from '../helpers/client-fixtures.js';

it('a burst of 50 calls against a 10-per-second server limit sees no 429 and takes 4 to 6 windows', async () => {
  const emu = await emulator({ rateLimit: { requests: 10, windowMs: 1_000 } });
  const seeded = emu.seed({ filename: 'a.txt', content_base64: Buffer.from('a').toString('base64') });
  const c = client(emu.url, { requestsPerMinute: 10, rateLimitWindowMs: 1_000 });

  const started = performance.now();
  await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 5 === 0 ? drain(c.list()) : c.get(seeded.id))));
  const elapsed = performance.now() - started;

  const state = emu.state();
  expect(state.faults.rate_limit ?? 0).toBe(0);
  expect(state.requests['GET /v1/files/{id}']?.['429']).toBeUndefined();
  expect(c.stats).toMatchObject({ requests: 50, rateLimited: 0, retries: 0 });
  // 50 requests at 10 per window: the last 10 leave after 4 full windows.
  expect(elapsed).toBeGreaterThanOrEqual(3_500);
  expect(elapsed).toBeLessThan(8_000);
}, 30_000);

it('the limiter spaces requests but does not serialise them: 8 slow calls run side by side', async () => {
  const emu = await emulator({ faults: { latencyMs: 300 } });
  const seeded = emu.seed({ filename: 'a.txt', content_base64: Buffer.from('a').toString('base64') });
  const c = client(emu.url, { requestsPerMinute: 100, rateLimitWindowMs: 60_000 });

  const started = performance.now();
  await Promise.all(Array.from({ length: 8 }, () => c.get(seeded.id)));
  // One after the other would take 8 × 300 ms.
  expect(performance.now() - started).toBeLessThan(1_500);
});

async function drain(files: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of files) n++;
  return n;
}
