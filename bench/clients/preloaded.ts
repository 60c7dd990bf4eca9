// The preloaded ceiling: every file read and framed as a multipart body in memory BEFORE the clock
// starts, then sent by bare undici (a keep-alive Agent, `--concurrency` at once; no hashing, no
// state, no retries). What is left is the wire and the emulator: the fastest any client can go.
// Prints one JSON line: {files, bytes, failed, ms and cpuMs (sending only), preloadMs, maxInFlight}.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

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
const baseHeaders = {
  'x-api-key': process.env.ANTHROPIC_API_KEY!,
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'files-api-2025-04-14',
};

interface Prebuilt {
  body: Buffer;
  headers: Record<string, string>;
}

const preloadStart = performance.now();
const files = readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => join(e.parentPath, e.name));
const boundaryPrefix = `----bench-preloaded-${randomBytes(8).toString('hex')}-`;
const bodies: Prebuilt[] = files.map((path, i) => {
  const boundary = `${boundaryPrefix}${i.toString(36)}`;
  const name = path.slice(dir.length + 1).replaceAll('/', '\u2215');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${values.type}\r\n\r\n`,
    'utf8',
  );
  const body = Buffer.concat([head, readFileSync(path), Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1')]);
  return {
    body,
    headers: {
      ...baseHeaders,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(body.length),
    },
  };
});
const preloadMs = performance.now() - preloadStart;

const agent = new Agent({ connections: concurrency, keepAliveTimeout: 10_000 });
const url = new URL('/v1/files', baseUrl);
let next = 0;
let bytes = 0;
let failed = 0;
let inFlight = 0;
let maxInFlight = 0;

async function worker(): Promise<void> {
  for (let i = next++; i < bodies.length; i = next++) {
    const { body, headers } = bodies[i]!;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
    const text = await res.body.text();
    inFlight--;
    if (res.statusCode !== 200) {
      failed++;
      continue;
    }
    bytes += (JSON.parse(text) as { size_bytes: number }).size_bytes;
  }
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
await Promise.all(Array.from({ length: concurrency }, worker));
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
await agent.close();
process.stdout.write(`${JSON.stringify({ files: files.length, bytes, failed, ms, cpuMs, preloadMs, maxInFlight })}\n`);
