// The API key never appears in a log line, an error message, a stack, an error's JSON or inspection.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { expect, it } from 'vitest';
import { memoryLogger } from '../../src/log.js';
import { FilesClient } from '../../src/remote/index.js';
import { client, emulator, localServer, tempDir, TEST_KEY } from '../helpers/client-fixtures.js';

const WRONG_KEY = 'sk-ant-wrong-but-still-secret-42424242';

/** Every way an error is commonly printed. */
function renderings(err: unknown): string[] {
  const e = err as Error;
  return [String(e.message), String(e.stack), JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })];
}

async function capture(promise: Promise<unknown>, sink: string[]): Promise<void> {
  try {
    await promise;
  } catch (err) {
    sink.push(...renderings(err));
  }
}

it('no key in logs or errors through successes, faults, 401s, 404s, 400s, timeouts and refused connections', async () => {
  const emu = await emulator({
    faults: {
      rate429: 0.1,
      rate500: 0.1,
      rate529: 0.1,
      resetMidUpload: 0.1,
      lostUploadAnswer: 0.1,
      retryAfterSeconds: 0,
      seed: 3,
    },
  });
  const dir = await tempDir();
  const { logger, lines } = memoryLogger('debug');
  const thrown: string[] = [];
  const c = client(emu.url, { logger, maxAttempts: 2 });
  const wrong = client(emu.url, { logger, apiKey: WRONG_KEY });
  const refused = client('http://127.0.0.1:1', { logger, maxAttempts: 2 });
  const silent = await localServer(() => undefined);
  const slow = client(silent.url, { logger, maxAttempts: 2, timeouts: { responseMs: 100 } });

  for (let i = 0; i < 30; i++) {
    const path = join(dir, `s${i}.txt`);
    await writeFile(path, `secret-free content ${i}`);
    await capture(c.upload(path, { filename: `s${i}.txt`, mimeType: 'text/plain' }), thrown);
  }
  await capture(
    (async () => {
      for await (const _ of c.list()) {
        /* drain */
      }
    })(),
    thrown,
  );
  await capture(c.get('file_missing'), thrown);
  await capture(c.delete('file_missing'), thrown);
  const uploaded = emu.state().files[0];
  if (uploaded) await capture(c.download(uploaded.id, join(dir, 'copy')), thrown);
  await capture(wrong.get('file_x'), thrown);
  await capture(wrong.upload(join(dir, 's0.txt'), { filename: 's0.txt', mimeType: 'text/plain' }), thrown);
  await capture(refused.get('file_x'), thrown);
  await capture(slow.get('file_x'), thrown);
  await capture(
    Promise.resolve().then(() => new FilesClient({ baseUrl: emu.url, apiKey: 'sk-ant-has a space-0123456789' })),
    thrown,
  );

  expect(thrown.length).toBeGreaterThan(20); // 401s, 404, 400, timeouts, refusals and fault-exhausted uploads
  expect(lines.length).toBeGreaterThan(10);
  const everything = [...thrown, ...lines, inspect(c, { depth: 10, showHidden: true })].join('\n');
  for (const key of [TEST_KEY, WRONG_KEY, 'sk-ant-has a space-0123456789']) expect(everything).not.toContain(key);
  // Nothing even tried to print a key: the redaction net caught nothing.
  expect(everything).not.toContain('[redacted]');
});

it('a server that echoes the key back in its error message does not get it into the error or the logs', async () => {
  const server = await localServer((req, res) => {
    const text = JSON.stringify({
      type: 'error',
      error: { type: 'invalid_request_error', message: `bad key ${String(req.headers['x-api-key'])}` },
    });
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(text);
  });
  const { logger, lines } = memoryLogger('debug');
  const thrown: string[] = [];
  await capture(client(server.url, { logger }).get('file_x'), thrown);
  expect(thrown.join('\n')).toContain('bad key [redacted]');
  expect([...thrown, ...lines].join('\n')).not.toContain(TEST_KEY);
});
