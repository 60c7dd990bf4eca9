// `npm run torture`: the crash-and-fault loop of issue 9 against the built CLI and the emulator on
// 127.0.0.1, then the invariants; appends the run to RELIABILITY.md and exits 1 on any violation.
// Flags: --rounds N, --daemon-rounds N, --soak-runs N, --files N, --seed N, --big (a few files up
// to 20 MB), --quick (about 2 minutes), --self-test (prove the checker catches planted faults),
// --no-report (leave RELIABILITY.md alone).
import fs from 'node:fs';
import type { EmulatorState } from '../src/emulator/index.js';
import { checkInvariants, gather, type CheckResult } from './lib/check.js';
import { keepEvidence } from './lib/evidence.js';
import { converge, daemonRound, soak, syncRound, type RunContext } from './lib/phases.js';
import { randomSeed, Rng } from './lib/prng.js';
import { appendReliability, loadLine, machineLine, section, type RunSummary } from './lib/report.js';
import { judgeSelfTest, runSelfTest } from './lib/selftest.js';
import { buildTree, Graveyard, listTree } from './lib/tree.js';
import { openWorkspace, seedColliding } from './lib/workspace.js';
import { scriptArgs } from '../bench/lib/args.js';

const USAGE = `usage: npm run torture -- [--quick] [--seed N] [--rounds N] [--daemon-rounds N] [--soak-runs N] [--files N] [--big] [--self-test] [--no-report]
  the crash-and-fault loop against the built CLI and the emulator on 127.0.0.1, then the invariants;
  appends the run to RELIABILITY.md (unless --no-report) and exits 1 on any violation.
  --quick about 2 minutes (default about 10); --big adds a few files up to 20 MB;
  --self-test proves the checker catches planted faults.
`;
const values = scriptArgs(USAGE, {
  rounds: { type: 'string' },
  'daemon-rounds': { type: 'string' },
  'soak-runs': { type: 'string' },
  files: { type: 'string' },
  seed: { type: 'string' },
  big: { type: 'boolean', default: false },
  quick: { type: 'boolean', default: false },
  'self-test': { type: 'boolean', default: false },
  'no-report': { type: 'boolean', default: false },
});

function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, not "${raw}"`);
  return n;
}

const quick = values.quick === true;
const opts = {
  rounds: count('rounds', values.rounds, quick ? 14 : 60),
  daemonRounds: count('daemon-rounds', values['daemon-rounds'], quick ? 5 : 20),
  soakRuns: count('soak-runs', values['soak-runs'], quick ? 3 : 5),
  files: count('files', values.files, quick ? 100 : 300),
  seed: count('seed', values.seed, randomSeed()),
  big: values.big === true,
};

const t0 = Date.now();
const log = (line: string) => process.stdout.write(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] ${line}\n`);

async function selfTest(): Promise<number> {
  log('self-test: a clean sync, then a planted lost copy, extra copy and deleted foreign file');
  const { steps } = await runSelfTest();
  for (const s of steps) log(`  planted ${s.planted}: ${s.result.details.join('; ') || 'no violation'}`);
  const problems = judgeSelfTest(steps);
  for (const p of problems) log(`  PROBLEM: ${p}`);
  log(problems.length === 0 ? 'self-test passed: each planted fault was caught, and only it' : 'self-test FAILED');
  return problems.length === 0 ? 0 : 1;
}

/** The whole loop; returns the summary (and keeps evidence when something failed). */
async function torture(): Promise<RunSummary> {
  const startedAt = new Date();
  const loadAtStart = loadLine();
  const rng = new Rng(opts.seed);
  log(
    `seed ${opts.seed} (npm run torture -- --seed ${opts.seed} replays the changes and fault settings; where kills land depends on timing)`,
  );
  log(
    `${opts.files} files${opts.big ? ' + 3 big' : ''}, ${opts.rounds} sync rounds, ${opts.daemonRounds} daemon rounds, ${opts.soakRuns} soak runs; ${machineLine()}, load average ${loadAtStart}`,
  );
  const ws = await openWorkspace('files-sync-torture-');
  const ctx: RunContext = {
    ws,
    rng,
    graveyard: new Graveyard(),
    log,
    counters: { syncKills: 0, daemonKills: 0, syncTimeouts: 0, faultRounds: 0, foreignSeeded: 0, daemonSelfExits: 0 },
  };
  let state: EmulatorState | null;
  let check: CheckResult | null = null;
  const extra: Record<string, unknown> = { options: opts };
  let evidence: string | null = null;
  let soakExits: (number | null)[] = [];
  let conv = { runs: 0, converged: false };
  try {
    buildTree(ws.root, rng, { files: opts.files, big: opts.big });
    ctx.counters.foreignSeeded += seedColliding(ws, rng, listTree(ws.root, false), 0.08, 3, 10);
    log(`tree built in ${ws.dir}; ${ctx.counters.foreignSeeded} foreign files seeded`);
    for (let i = 0; i < opts.rounds; i++) await syncRound(ctx, i);
    for (let i = 0; i < opts.daemonRounds; i++) await daemonRound(ctx, i);
    soakExits = await soak(ctx, opts.soakRuns);
    conv = await converge(ctx);
    const ev = await gather(ws.cli, ws.root, ws.stateDir, () => ws.emu.state(), ws.foreign);
    state = ev.state;
    check = checkInvariants(ev);
    extra.violations = check;
    extra.ledgerMap = ev.map;
    extra.foreign = ev.foreign;
  } catch (err) {
    extra.suiteError = String((err as Error).stack ?? err);
    log(`the suite itself failed: ${String(err)}`);
    state = ws.emu.state();
  } finally {
    await ws.close();
  }
  const total = check ? Object.values(check.counts).reduce((a, b) => a + b, 0) : 1;
  if (check) for (const line of check.details.slice(0, 40)) log(`  ${line}`);
  if (check && check.details.length > 40) log(`  … ${check.details.length - 40} more in the evidence folder`);
  const local = listTree(ws.root, false);
  if (total > 0 || !conv.converged) {
    try {
      evidence = keepEvidence(opts.seed, ws.dir, state, extra);
    } catch (err) {
      // The run folder stays where it is, so nothing is lost: name it instead.
      log(`could not copy the evidence (${String(err)}); it stays in ${ws.dir}`);
      evidence = ws.dir;
    }
  }
  if (evidence !== ws.dir) fs.rmSync(ws.dir, { recursive: true, force: true });
  const emptyCheck: CheckResult = {
    counts: {
      lostFiles: 0,
      wrongContent: 0,
      staleMap: 0,
      duplicates: 0,
      orphans: 0,
      foreignTouched: 0,
      foreignAdopted: 0,
      ledgerOpens: 1,
      ledgerIntegrity: 1,
    },
    details: ['the suite failed before the check'],
    unclaimed: 0,
  };
  return {
    command: `npm run torture${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    seed: opts.seed,
    startedAt,
    loadAtStart,
    seconds: (Date.now() - t0) / 1000,
    files: local.length,
    bytes: local.reduce((s, f) => s + f.size, 0),
    foreignSeeded: ctx.counters.foreignSeeded,
    syncRounds: opts.rounds,
    daemonRounds: opts.daemonRounds,
    soakRuns: opts.soakRuns,
    syncKills: ctx.counters.syncKills,
    daemonKills: ctx.counters.daemonKills,
    syncTimeouts: ctx.counters.syncTimeouts,
    daemonSelfExits: ctx.counters.daemonSelfExits,
    faultRounds: ctx.counters.faultRounds,
    faults: state?.faults ?? {},
    soakExits,
    convergeRuns: conv.runs,
    converged: conv.converged,
    check: check ?? emptyCheck,
    evidence,
  };
}

if (values['self-test']) {
  process.exitCode = await selfTest();
} else {
  const summary = await torture();
  process.stdout.write(`\n${section(summary)}\n`);
  if (!values['no-report']) log(`appended to ${appendReliability(summary)}`);
  if (summary.evidence) log(`evidence kept in ${summary.evidence}`);
  const failed = Object.values(summary.check.counts).some((n) => n > 0) || !summary.converged;
  process.exitCode = failed ? 1 : 0;
}
