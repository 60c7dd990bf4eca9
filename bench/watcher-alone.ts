// The daemon's watcher alone on an existing tree (issue 13): time to "every directory watched", the
// process's peak RSS then, and its RSS after an idle spell, without a ledger or an API, so a tree of
// any size can be measured without its initial sync. Another build can be measured with --dist
// (a copy of an older dist/ inside the repository, so that its imports resolve).
// `node dist-bench/watcher-alone.js --root DIR [--dist DIR] [--idle-seconds N]`
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO } from './lib/env.js';
import { scriptArgs } from './lib/args.js';

/** What this script uses of src/daemon/watcher.ts (the bench compiles apart from src/). */
interface Watcher {
  start(): void;
  status(): { state: string; directories: number | null; error: string | null };
  close(): Promise<void>;
}
type WatcherClass = new (o: {
  root: string;
  filter: () => boolean;
  followSymlinks: boolean;
  logger: unknown;
  onEvent: () => void;
  onError: (err: Error) => void;
}) => Watcher;

const USAGE = `usage: node dist-bench/watcher-alone.js --root DIR [--dist DIR] [--idle-seconds 30]
  the daemon's watcher alone on an existing tree: time to every directory watched, peak and idle RSS
`;
const values = scriptArgs(USAGE, {
  root: { type: 'string' },
  dist: { type: 'string', default: resolve(REPO, 'dist') },
  'idle-seconds': { type: 'string', default: '30' },
});
if (!values.root) {
  process.stderr.write(`--root is required\n\n${USAGE}`);
  process.exit(2);
}
const root = resolve(values.root);
const dist = resolve(values.dist);
const { TreeWatcher } = (await import(pathToFileURL(`${dist}/daemon/watcher.js`).href)) as { TreeWatcher: WatcherClass };
const { silentLogger } = (await import(pathToFileURL(`${dist}/log.js`).href)) as { silentLogger: () => unknown };

const mb = (field: string) => {
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  return Math.round(kb / 1024);
};
let hints = 0;
const started = performance.now();
const watcher = new TreeWatcher({
  root,
  filter: () => true,
  followSymlinks: false,
  logger: silentLogger(),
  onEvent: () => hints++,
  onError: (err) => console.error(`watcher error: ${err.message}`),
});
const baseMb = mb('VmRSS');
watcher.start();
while (watcher.status().state !== 'watching') {
  if (watcher.status().state === 'failed') throw new Error(`the watcher failed: ${watcher.status().error}`);
  await sleep(100);
}
const readyS = Math.round((performance.now() - started) / 100) / 10;
const directories = watcher.status().directories;
const peakMb = mb('VmHWM');
const heapMb = () => Math.round(process.memoryUsage().heapUsed / 2 ** 20);
const heapAtReadyMb = heapMb();
await sleep(Number(values['idle-seconds']) * 1000);
// With --expose-gc: what the watcher keeps, without the garbage its start left.
(globalThis as { gc?: () => void }).gc?.();
const heapIdleMb = heapMb();
console.log(JSON.stringify({ root, dist, readyS, directories, baseMb, peakMb, idleRssMb: mb('VmRSS'), heapAtReadyMb, heapIdleMb, hints }));
await watcher.close();
