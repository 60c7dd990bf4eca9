// Row 6: files-sync's own hashing (dist/local/hash.js, what the walk runs for a new file) over one
// file, timed in-process around the call. Prints {bytes, sha256, ms}.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO } from '../lib/env.js';

const { values } = parseArgs({ options: { file: { type: 'string' } } });
const { hashFile } = (await import(pathToFileURL(join(REPO, 'dist', 'local', 'hash.js')).href)) as {
  // Mirrors src/local/hash.ts's signature (a dynamic import of the build is not type-checked against it).
  hashFile: (path: string, options: { place: object }) => Promise<{ sha256: string; size: number; stableAcrossRead: boolean }>;
};
const t = performance.now();
// A file outside any sync root: no place to check, only the link, type and identity checks (safe-open.ts).
const result = await hashFile(values.file!, { place: {} });
const ms = performance.now() - t;
if (!result.stableAcrossRead) throw new Error('the file changed while it was hashed');
process.stdout.write(`${JSON.stringify({ bytes: result.size, sha256: result.sha256, ms })}\n`);
