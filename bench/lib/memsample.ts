// Preloaded into a measured child (`node --import …/memsample.js`) to find what its memory is made
// of over a run (issue 13): every $BENCH_MEMSAMPLE_MS (default 500) it appends one JSON line to
// $BENCH_MEMSAMPLE_OUT with process.memoryUsage(), V8's heap spaces and /proc/self/smaps_rollup
// (anonymous against file-backed), and at exit the file-backed mappings by size.
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const MB = 1024 * 1024;

/** Fields of /proc/self/smaps_rollup, in KiB. */
function rollup(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
  } catch (err) {
    out.error = 1;
    process.stderr.write(`memsample: cannot read smaps_rollup: ${String(err)}\n`);
  }
  return out;
}

/** Resident KiB per mapped file (and per kind of anonymous mapping) from /proc/self/smaps. */
function mappings(): Record<string, number> {
  const byName: Record<string, number> = {};
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] || '[anon]';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss) byName[name] = (byName[name] ?? 0) + Number(rss[1]);
  }
  return Object.fromEntries(
    Object.entries(byName)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15),
  );
}

function sample(tag: string): Record<string, unknown> {
  const mu = process.memoryUsage();
  const r = rollup();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_used_size / MB)]));
  return {
    tag,
    t: Math.round(performance.now()),
    rssMb: Math.round(mu.rss / MB),
    heapUsedMb: Math.round(mu.heapUsed / MB),
    heapTotalMb: Math.round(mu.heapTotal / MB),
    externalMb: Math.round(mu.external / MB),
    arrayBuffersMb: Math.round(mu.arrayBuffers / MB),
    anonMb: Math.round((r.Anonymous ?? 0) / 1024),
    fileMb: Math.round(((r.Rss ?? 0) - (r.Anonymous ?? 0) - (r.Shmem ?? 0)) / 1024),
    shmemMb: Math.round((r.Shmem ?? 0) / 1024),
    spaces,
  };
}

const out = process.env.BENCH_MEMSAMPLE_OUT;
if (out) {
  delete process.env.BENCH_MEMSAMPLE_OUT;
  const every = Number(process.env.BENCH_MEMSAMPLE_MS ?? 500);
  const write = (row: Record<string, unknown>) => appendFileSync(out, `${JSON.stringify(row)}\n`);
  // $BENCH_MEMSAMPLE_SNAPSHOT_MB: one heap snapshot (beside the output) the first time RSS passes
  // it; $BENCH_MEMSAMPLE_SNAPSHOT_S ("30,90"): one at each of those seconds after start.
  let snapshotAt = Number(process.env.BENCH_MEMSAMPLE_SNAPSHOT_MB ?? Infinity);
  const snapshotTimes = (process.env.BENCH_MEMSAMPLE_SNAPSHOT_S ?? '').split(',').filter(Boolean).map(Number);
  for (const s of snapshotTimes)
    setTimeout(() => write({ tag: 'snapshot', file: writeHeapSnapshot(`${out}.${s}s.heapsnapshot`) }), s * 1000).unref();
  const timer = setInterval(() => {
    const row = sample('tick');
    write(row);
    if ((row.rssMb as number) >= snapshotAt) {
      snapshotAt = Infinity;
      write({ tag: 'snapshot', file: writeHeapSnapshot(`${out}.heapsnapshot`) });
    }
  }, every);
  timer.unref();
  process.on('exit', () => write({ ...sample('exit'), mappings: mappings() }));
}
