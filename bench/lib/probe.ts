// Preloaded into every measured child (`node --import …/probe.js`): on exit it writes the process's
// own peak RSS, CPU time and I/O counters to $BENCH_PROBE_OUT, so the figures come from the
// process itself (getrusage and /proc/self/io) rather than from sampling it from outside.
import { readFileSync, writeFileSync } from 'node:fs';

/** What a probed child reports. */
export interface ProbeReport {
  /** getrusage(RUSAGE_SELF).ru_maxrss: peak resident set, KiB. */
  maxRssKb: number;
  userMs: number;
  systemMs: number;
  /** /proc/self/io: bytes passed to read() (files, sockets, pipes) and bytes fetched from storage. */
  rchar: number | null;
  readBytes: number | null;
  /** /proc/self/status VmHWM at exit: the peak resident set, KiB (the same peak as maxRssKb, from the kernel's own field). */
  vmHwmKb?: number | null;
}

function vmHwm(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function ioCounters(): { rchar: number | null; readBytes: number | null } {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => {
      const m = new RegExp(`^${name}: (\\d+)$`, 'm').exec(text);
      return m?.[1] === undefined ? null : Number(m[1]);
    };
    return { rchar: field('rchar'), readBytes: field('read_bytes') };
  } catch {
    return { rchar: null, readBytes: null };
  }
}

const out = process.env.BENCH_PROBE_OUT;
if (out) {
  // Not inherited by anything the child spawns.
  delete process.env.BENCH_PROBE_OUT;
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const report: ProbeReport = {
      maxRssKb: usage.maxRSS,
      userMs: usage.userCPUTime / 1000,
      systemMs: usage.systemCPUTime / 1000,
      ...ioCounters(),
      vmHwmKb: vmHwm(),
    };
    writeFileSync(out, JSON.stringify(report));
  });
}
