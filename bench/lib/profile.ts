// Reading a V8 .cpuprofile (`node --cpu-prof`): self time by function, inclusive time by function
// and by source file, and self time by area (files-sync's modules, undici, SQLite, node internals,
// GC), so a profile before and after a change can be compared in a few lines.
// As a script: `node dist-bench/lib/profile.js FILE.cpuprofile [--top 10]`.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One line of a table: a function or a file, with its self and inclusive times (ms). */
export interface ProfileLine {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  /** Sampled time, ms (idle included). */
  totalMs: number;
  idleMs: number;
  byFunction: ProfileLine[];
  byFile: ProfileLine[];
  byArea: ProfileLine[];
}

/** A short, stable name for a script URL: `src/sync/plan.js`, `undici/lib/…`, `node:internal/…`. */
export function shortFile(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  const dist = path.lastIndexOf('/dist/');
  if (dist >= 0) return `src/${path.slice(dist + '/dist/'.length)}`;
  return basename(path);
}

/** The area a file belongs to, for the per-file reading (hashing, ledger, wire, ...). */
export function area(file: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)' || fn === '(idle)' || fn === '(root)') return fn;
  if (file.startsWith('src/'))
    return file.split('/').length > 2 ? `files-sync ${file.split('/').slice(0, 2).join('/')}/` : `files-sync ${file}`;
  if (file.startsWith('node:')) return 'node internals';
  if (file === '(native)') return 'native (builtins: crypto, fs, JSON, ...)';
  return file.split('/')[0]!.replace(/^@[^/]+$/, file.split('/').slice(0, 2).join('/'));
}

function add(map: Map<string, ProfileLine>, key: string, name: string, where: string, self: number, total: number): void {
  let line = map.get(key);
  if (!line) map.set(key, (line = { name, where, selfMs: 0, totalMs: 0 }));
  line.selfMs += self;
  line.totalMs += total;
}

/** Adds one frame of one sample: self time if it is the leaf, inclusive time if not yet counted for this sample. */
function tally(
  map: Map<string, ProfileLine>,
  seen: Set<string>,
  key: string,
  name: string,
  where: string,
  self: boolean,
  ms: number,
): void {
  const first = !seen.has(key);
  seen.add(key);
  if (first || self) add(map, key, name, where, self ? ms : 0, first ? ms : 0);
}

/** Sums a profile's samples: each sample's time goes to its leaf (self) and once to each distinct frame above it (inclusive). */
export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fns = new Map<string, ProfileLine>();
  const files = new Map<string, ProfileLine>();
  const areas = new Map<string, ProfileLine>();
  let totalUs = 0;
  let idleUs = 0;
  profile.samples.forEach((leafId, i) => {
    // The delta before sample i+1 is the time spent in sample i (V8's own convention in DevTools).
    const us = profile.timeDeltas[i + 1] ?? 0;
    totalUs += us;
    const leaf = byId.get(leafId)!;
    if (leaf.callFrame.functionName === '(idle)') idleUs += us;
    const seen = { fn: new Set<string>(), file: new Set<string>(), area: new Set<string>() };
    for (let id: number | undefined = leafId, self = true; id !== undefined; id = parent.get(id), self = false) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const fn = functionName || '(anonymous)';
      // V8's own pseudo-frames ((idle), (program), (garbage collector)) count as files of their own.
      const file = url === '' && fn.startsWith('(') ? fn : shortFile(url);
      const fnKey = `${fn} ${file}:${lineNumber + 1}`;
      const ar = area(file, fn);
      if (fn === '(root)') continue;
      const ms = us / 1000;
      // Inclusive time once per sample for each distinct function, file and area on the stack (recursion).
      tally(fns, seen.fn, fnKey, fn, `${file}:${lineNumber + 1}`, self, ms);
      tally(files, seen.file, file, file, '', self, ms);
      tally(areas, seen.area, ar, ar, '', self, ms);
    }
  });
  const sorted = (m: Map<string, ProfileLine>) => [...m.values()].sort((a, b) => b.selfMs - a.selfMs);
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    byFunction: sorted(fns),
    byFile: sorted(files),
    byArea: sorted(areas),
  };
}

/**
 * Who calls `fnName` (native syscall wrappers show up as leaves): self time of its samples by the
 * chain of its nearest `depth` callers, largest first.
 */
export function callers(profile: CpuProfile, fnName: string, depth = 3): { chain: string; ms: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const chains = new Map<string, number>();
  profile.samples.forEach((leafId, i) => {
    if (byId.get(leafId)!.callFrame.functionName !== fnName) return;
    const names: string[] = [];
    for (let id = parent.get(leafId); id !== undefined && names.length < depth; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      names.push(`${f.functionName || '(anonymous)'} ${shortFile(f.url)}:${f.lineNumber + 1}`);
    }
    const key = names.join(' < ');
    chains.set(key, (chains.get(key) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  });
  return [...chains].map(([chain, ms]) => ({ chain, ms })).sort((a, b) => b.ms - a.ms);
}

/** Reads a .cpuprofile file. */
export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

/** Reads and sums a .cpuprofile file. */
export function summarizeFile(path: string): ProfileSummary {
  return summarize(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile);
}

/** The summary as plain text tables: top `top` by self time, by inclusive time per file, and the areas. */
export function formatSummary(s: ProfileSummary, top: number, perFile?: number): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => `${((ms / busy) * 100).toFixed(1).padStart(5)}%`;
  const row = (l: ProfileLine, withWhere: boolean) =>
    `  ${l.selfMs.toFixed(0).padStart(7)} ms ${pct(l.selfMs)}  ${l.totalMs.toFixed(0).padStart(7)} ms ${pct(l.totalMs)}  ${l.name}${withWhere ? `  (${l.where})` : ''}`;
  const head = '     self          inclusive';
  const notIdle = (l: ProfileLine) => l.name !== '(idle)';
  const out = [
    `sampled ${s.totalMs.toFixed(0)} ms, of which idle ${s.idleMs.toFixed(0)} ms; percentages are of the ${busy.toFixed(0)} ms not idle`,
    '',
    `top ${top} functions by self time:`,
    head,
    ...s.byFunction
      .filter(notIdle)
      .slice(0, top)
      .map((l) => row(l, true)),
    '',
    `top ${perFile ?? top} source files by inclusive time:`,
    head,
    ...[...s.byFile]
      .filter(notIdle)
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, perFile ?? top)
      .map((l) => row(l, false)),
    '',
    'areas by self time:',
    head,
    ...s.byArea.filter(notIdle).map((l) => row(l, false)),
  ];
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '10' },
      files: { type: 'string', default: '15' },
      callers: { type: 'string', multiple: true },
    },
  });
  if (positionals.length === 0)
    throw new Error('usage: node dist-bench/lib/profile.js FILE.cpuprofile [--top 10] [--files 15] [--callers fstat ...]');
  for (const file of positionals) {
    process.stdout.write(`${file}\n${formatSummary(summarizeFile(file), Number(values.top), Number(values.files))}\n`);
    for (const fn of values.callers ?? []) {
      process.stdout.write(`\ncallers of ${fn} (self ms by caller chain):\n`);
      for (const c of callers(readProfile(file), fn).slice(0, 6)) process.stdout.write(`  ${c.ms.toFixed(0).padStart(7)} ms  ${c.chain}\n`);
    }
  }
}
