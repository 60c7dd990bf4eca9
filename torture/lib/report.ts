// RELIABILITY.md: one section per torture run (machine, seed, sizes, kills, faults, each
// invariant's violations), appended so the file keeps every run's figures.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INVARIANTS, type CheckResult, type InvariantName } from './check.js';
import { REPO } from './cli.js';

/** What one run did and found. */
export interface RunSummary {
  command: string;
  seed: number;
  startedAt: Date;
  /** Load averages when the run started. */
  loadAtStart: string;
  seconds: number;
  files: number;
  bytes: number;
  foreignSeeded: number;
  syncRounds: number;
  daemonRounds: number;
  soakRuns: number;
  syncKills: number;
  daemonKills: number;
  syncTimeouts: number;
  /** Daemons found exited before the suite stopped them (a crash or a fatal error). */
  daemonSelfExits: number;
  faultRounds: number;
  faults: Record<string, number>;
  soakExits: (number | null)[];
  convergeRuns: number;
  converged: boolean;
  check: CheckResult;
  evidence: string | null;
}

/** The machine, as `os` reports it. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown cpu'}, ${cpus.length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB, ${os.platform()} ${os.release()}`;
}

/** The 1, 5 and 15 minute load averages (other work on the machine slows the runs down). */
export function loadLine(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

const HEADER = `# Reliability

Written by \`npm run torture\` (torture/run.ts): each section is one run of the crash-and-fault
loop against the emulator on 127.0.0.1 (random changes, SIGKILLs of \`sync\` and of the daemon,
faults and lost answers, a fault soak, then a converging sync and the invariants). \`--seed N\`
replays the schedule of changes and fault settings; where the kills land depends on timing.
`;

/** The section of one run, as Markdown. */
export function section(s: RunSummary): string {
  const total = Object.values(s.check.counts).reduce((a, b) => a + b, 0);
  const faults =
    Object.entries(s.faults)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none';
  const rows = (Object.keys(INVARIANTS) as InvariantName[]).map((k) => `| ${k} | ${INVARIANTS[k]} | ${s.check.counts[k]} |`);
  return [
    `## ${s.startedAt.toISOString()}, seed ${s.seed}: ${total === 0 && s.converged ? 'PASS' : 'FAIL'}`,
    '',
    `- Command: \`${s.command}\` (${Math.round(s.seconds)} s)`,
    `- Machine: ${machineLine()}; node ${process.version}; load average ${s.loadAtStart} at the start, ${loadLine()} at the end`,
    `- Tree: ${s.files} files at the end, ${(s.bytes / 1024 / 1024).toFixed(1)} MiB; ${s.foreignSeeded} foreign files seeded (names and sizes colliding with the tree's, and others)`,
    `- Rounds: ${s.syncRounds} sync rounds and ${s.daemonRounds} daemon rounds, ${s.faultRounds} of them with faults and lost answers; ${s.soakRuns} soak runs (exit codes ${s.soakExits.join(', ') || 'none'})`,
    `- Kills: ${s.syncKills} of \`sync\`, ${s.daemonKills} of the daemon (SIGKILL); ${s.syncTimeouts} runs killed for running over the time limit; ${s.daemonSelfExits} daemons had exited by themselves`,
    `- Faults injected (emulator counters): ${faults}`,
    `- Converging sync: ${s.converged ? `exit 0 after ${s.convergeRuns} run(s)` : `no exit 0 in ${s.convergeRuns} runs`}; unclaimed copies reported by status: ${s.check.unclaimed}`,
    s.evidence
      ? `- Evidence kept in \`${s.evidence.startsWith(REPO) ? path.relative(REPO, s.evidence) : s.evidence}\``
      : '- No evidence kept (every invariant held)',
    '',
    '| Invariant | Meaning | Violations |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** Appends the run's section to RELIABILITY.md (created with its header when missing). */
export function appendReliability(s: RunSummary): string {
  const file = path.join(REPO, 'RELIABILITY.md');
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${HEADER}\n`);
  fs.appendFileSync(file, `${section(s)}\n`);
  return file;
}
