// The baseline of row 3: a bare Node stat walk of the tree (readdir with file types, an lstat per
// file, 16 at a time as files-sync's walk does), then the listing of the workspace page by page
// (1,000 a page) over one undici keep-alive connection. Prints {files, listed, pages, walkMs, listMs}.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
const root = values.dir!;

const t0 = performance.now();
let files = 0;
const dirs = [root];
const pending: string[] = [];
async function worker(): Promise<void> {
  for (;;) {
    const dir = dirs.pop();
    if (dir !== undefined) {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) dirs.push(path);
        else pending.push(path);
      }
      continue;
    }
    const file = pending.pop();
    if (file === undefined) return;
    if ((await lstat(file)).isFile()) files++;
  }
}
// A directory read may feed workers that already found nothing to do: run rounds until both are empty.
while (dirs.length > 0 || pending.length > 0) await Promise.all(Array.from({ length: 16 }, worker));
const walkMs = performance.now() - t0;

const t1 = performance.now();
const agent = new Agent({ connections: 1 });
const headers = {
  'x-api-key': process.env.ANTHROPIC_API_KEY!,
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'files-api-2025-04-14',
};
let listed = 0;
let pages = 0;
let after: string | null = null;
for (;;) {
  const url = new URL('/v1/files', process.env.ANTHROPIC_BASE_URL);
  url.searchParams.set('limit', '1000');
  if (after) url.searchParams.set('after_id', after);
  const res = await request(url, { headers, dispatcher: agent });
  const page = (await res.body.json()) as { data: unknown[]; last_id: string | null; has_more: boolean };
  pages++;
  listed += page.data.length;
  if (!page.has_more || page.last_id === null) break;
  after = page.last_id;
}
await agent.close();
process.stdout.write(`${JSON.stringify({ files, listed, pages, walkMs, listMs: performance.now() - t1 })}\n`);
