// Two CPU profiles of one run, side by side: the emulator's and its client's (issue 13, row 1). Both
// processes sample on the same monotonic clock (V8's profile timestamps), so each instant of the
// run can be told as both busy, one idle, or both idle, and what the client was doing while the
// emulator had nothing to work on is the cost of the client's per-file work on the wire.
import { readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
}
interface Profile {
  nodes: { id: number; callFrame: Frame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/** A profile's samples as (time µs, node id), and its nodes by id with their parents. */
function timeline(file: string) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const at: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) at.push((t += d));
  return { p, byId, parent, idle, at };
}

export interface JointSummary {
  /** From the emulator's first busy sample after the client started to its last before the client ended, ms. */
  spanMs: number;
  /** Shares of that span's time: both busy, only the client busy (the emulator waits), only the emulator busy, both idle. The emulator's `(program)` samples count as busy. */
  bothBusy: number;
  emulatorWaits: number;
  clientWaits: number;
  bothIdle: number;
  /** What the client ran while the emulator waited: the leaf function of its samples, ms. */
  whileEmulatorWaits: { name: string; ms: number }[];
}

/** Reads the two profiles of one run (the emulator's and the client's). */
export function jointSummary(emulatorProfile: string, clientProfile: string, top = 12): JointSummary {
  const em = timeline(emulatorProfile);
  const cl = timeline(clientProfile);
  // From the emulator's first work for this client to its last before the client ended: the
  // client's start-up before its first request and its exit after the last answer are left out,
  // and so are the emulator's own start and stop.
  const clientFrom = cl.at[0] ?? Infinity;
  const clientTo = cl.at.at(-1) ?? -Infinity;
  const emBusyAt = em.at.filter((t, i) => t >= clientFrom && t <= clientTo && !em.idle.has(em.p.samples[i]!));
  const from = emBusyAt[0] ?? Infinity;
  const to = emBusyAt.at(-1) ?? -Infinity;
  // The emulator's state at a time: that of its last sample at or before it.
  let j = 0;
  const emulatorIdleAt = (t: number): boolean => {
    while (j + 1 < em.at.length && em.at[j + 1]! <= t) j++;
    return em.idle.has(em.p.samples[j]!);
  };
  // Each client sample stands for the time to the next one (samples are late after a collection,
  // so a collector's sample stands for longer): shares are of time, not of samples.
  const counts = { bothBusy: 0, emulatorWaits: 0, clientWaits: 0, bothIdle: 0 };
  const waiting = new Map<string, number>();
  let n = 0;
  cl.at.forEach((t, i) => {
    if (t < from || t > to) return;
    const w = (cl.at[i + 1] ?? t) - t;
    n += w;
    const id = cl.p.samples[i]!;
    const clientIdle = cl.idle.has(id);
    const emIdle = emulatorIdleAt(t);
    if (clientIdle && emIdle) counts.bothIdle += w;
    else if (emIdle) {
      counts.emulatorWaits += w;
      const name = cl.byId.get(id)?.callFrame.functionName || '(anonymous)';
      waiting.set(name, (waiting.get(name) ?? 0) + w / 1000);
    } else if (clientIdle) counts.clientWaits += w;
    else counts.bothBusy += w;
  });
  const share = (x: number) => (n === 0 ? 0 : x / n);
  return {
    spanMs: Math.max(0, to - from) / 1000,
    bothBusy: share(counts.bothBusy),
    emulatorWaits: share(counts.emulatorWaits),
    clientWaits: share(counts.clientWaits),
    bothIdle: share(counts.bothIdle),
    whileEmulatorWaits: [...waiting]
      .map(([name, ms]) => ({ name, ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

/** The summary as lines, under a title. */
export function formatJoint(title: string, s: JointSummary): string {
  const pc = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `${title}: ${(s.spanMs / 1000).toFixed(2)} s from the emulator's first work for it to its last`,
    `  both busy ${pc(s.bothBusy)}; the emulator waits on the client ${pc(s.emulatorWaits)}; the client waits ${pc(s.clientWaits)}; both idle ${pc(s.bothIdle)}`,
    `  what the client ran while the emulator waited (leaf functions):`,
    ...s.whileEmulatorWaits.map((f) => `    ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`),
  ].join('\n');
}
