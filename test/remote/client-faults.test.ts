// FilesClient under injected faults: uploads succeed and the lost answers account for every orphan.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import PQueue from 'p-queue';
import { expect, it } from 'vitest';
import type { UploadResult } from '../../src/remote/index.js';
import { client, emulator, tempDir } from '../helpers/client-fixtures.js';

it('200 uploads through 429/500/529, resets and lost answers all succeed; unknown outcomes account for every extra file', async () => {
  const emu = await emulator({
    faults: {
      rate429: 0.07,
      rate500: 0.07,
      rate529: 0.06,
      resetMidUpload: 0.05,
      lostUploadAnswer: 0.05,
      retryAfterSeconds: 0,
      seed: 7,
    },
  });
  const dir = await tempDir();
  const c = client(emu.url, { maxAttempts: 10 });
  const paths: string[] = [];
  for (let i = 0; i < 200; i++) {
    const path = join(dir, `f${i}.txt`);
    await writeFile(path, `content of file ${i}\n`.repeat(50 + i));
    paths.push(path);
  }

  const queue = new PQueue({ concurrency: 8 });
  const results: UploadResult[] = await Promise.all(
    paths.map((path, i) => queue.add(() => c.upload(path, { filename: `f${i}.txt`, mimeType: 'text/plain' }))),
  );

  const state = emu.state();
  const lost = state.faults.lost_answer ?? 0;
  const resets = state.faults.reset ?? 0;
  const unknown = results.reduce((sum, r) => sum + r.unknownOutcomeAttempts, 0);
  // The faults did happen (the seed makes this a fact, not a hope).
  expect(lost).toBeGreaterThan(0);
  expect(resets).toBeGreaterThan(0);
  expect((state.faults['429'] ?? 0) + (state.faults['500'] ?? 0) + (state.faults['529'] ?? 0)).toBeGreaterThan(20);
  // Every file arrived once, plus one orphan per lost answer.
  expect(new Set(results.map((r) => r.file.id)).size).toBe(200);
  expect(state.files).toHaveLength(200 + lost);
  // A refusal (429, 529) is a known outcome; a reset, a lost answer and a 500 are not: the client
  // cannot tell a body cut off by a reset from one stored before the answer was lost, nor a server
  // error before the file was stored from one after (the emulator's come before).
  expect(unknown).toBe(lost + resets + (state.faults['500'] ?? 0));
  expect(unknown).toBeGreaterThanOrEqual(state.files.length - 200);
  expect(c.stats.unknownOutcomes).toBe(unknown);
  expect(c.stats.rateLimited).toBe(state.faults['429'] ?? 0);
  expect(c.stats.retries).toBe(c.stats.requests - 200);
});

it('with lost answers as the only fault, the unknown outcomes equal the extra files exactly', async () => {
  const emu = await emulator({ faults: { lostUploadAnswer: 0.15, seed: 11 } });
  const dir = await tempDir();
  const c = client(emu.url, { maxAttempts: 10 });
  const queue = new PQueue({ concurrency: 8 });
  const results: UploadResult[] = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      queue.add(async () => {
        const path = join(dir, `g${i}.txt`);
        await writeFile(path, `g${i}`);
        return c.upload(path, { filename: `g${i}.txt`, mimeType: 'text/plain' });
      }),
    ),
  );
  const unknown = results.reduce((sum, r) => sum + r.unknownOutcomeAttempts, 0);
  expect(unknown).toBeGreaterThan(0);
  expect(emu.state().files.length - 60).toBe(unknown);
  expect(emu.state().faults.lost_answer).toBe(unknown);
});
