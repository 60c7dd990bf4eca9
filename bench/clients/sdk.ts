// The SDK script a user would write with the official SDK (0.121.0, the beta contract): walk the
// folder, upload each file with `client.beta.files.upload({file: await toFile(stream, name, {type})})`
// over a promise pool of `--concurrency`, SDK defaults otherwise (2 retries). The key and base URL
// come from ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL, as the SDK reads them.
// Prints one JSON line: {files, bytes, failed, errors, ms}.
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Anthropic, { toFile } from 'sdk-beta';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    type: { type: 'string', default: 'text/plain' },
  },
});
const dir = values.dir!;
const concurrency = Number(values.concurrency);

const started = performance.now();
const client = new Anthropic();
const files = readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => join(e.parentPath, e.name));
let next = 0;
let bytes = 0;
let failed = 0;
const errors: Record<string, number> = {};

async function worker(): Promise<void> {
  for (let i = next++; i < files.length; i = next++) {
    const path = files[i]!;
    const name = path.slice(dir.length + 1).replaceAll('/', '\u2215');
    try {
      const file = await client.beta.files.upload({
        file: await toFile(createReadStream(path), name, { type: values.type }),
      });
      bytes += file.size_bytes;
    } catch (err) {
      failed++;
      const key = err instanceof Anthropic.APIError ? `${err.status ?? 'connection'}` : (err as Error).name;
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, failed, errors, ms: performance.now() - started })}\n`);
