// The ceiling: what the wire allows. Bare undici with a keep-alive Agent, each file streamed from
// disk (fs.openAsBlob + FormData), `--concurrency` at once; no hashing, no state, no retries.
// Prints one JSON line: {files, bytes, failed, ms}.
import { openAsBlob, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, FormData, request } from 'undici';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    type: { type: 'string', default: 'text/plain' },
  },
});
const dir = values.dir!;
const concurrency = Number(values.concurrency);
const baseUrl = process.env.ANTHROPIC_BASE_URL!;
const headers = {
  'x-api-key': process.env.ANTHROPIC_API_KEY!,
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'files-api-2025-04-14',
};

const started = performance.now();
const files = readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => join(e.parentPath, e.name));
const agent = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
const url = new URL('/v1/files', baseUrl);
let next = 0;
let bytes = 0;
let failed = 0;

async function worker(): Promise<void> {
  for (let i = next++; i < files.length; i = next++) {
    const path = files[i]!;
    const blob = await openAsBlob(path, { type: values.type });
    const form = new FormData();
    form.append('file', blob, path.slice(dir.length + 1).replaceAll('/', '\u2215'));
    const res = await request(url, { method: 'POST', headers, body: form, dispatcher: agent });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      failed++;
      continue;
    }
    bytes += (JSON.parse(text) as { size_bytes: number }).size_bytes;
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
await agent.close();
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, failed, ms: performance.now() - started })}\n`);
