// The phases of a torture run: sync rounds with SIGKILLs, daemon rounds with SIGKILLs and
// restarts, the fault soak and the converging sync. Every choice comes from the run's PRNG.
import type { FaultConfig } from '../../src/emulator/index.js';
import { remoteName } from '../../src/sync/names.js';
import fs from 'node:fs';
import path from 'node:path';
import { DaemonRun, delay } from './cli.js';
import type { Rng } from './prng.js';
import { randomChanges, type Graveyard } from './tree.js';
import { seedForeign, type Workspace } from './workspace.js';

/** Shared state of a run and its counters. */
export interface RunContext {
  ws: Workspace;
  rng: Rng;
  graveyard: Graveyard;
  log: (line: string) => void;
  counters: {
    syncKills: number;
    daemonKills: number;
    syncTimeouts: number;
    faultRounds: number;
    foreignSeeded: number;
    daemonSelfExits: number;
  };
}

/** Share of rounds run with faults and lost answers. */
const FAULT_ROUND_SHARE = 0.35;

/** Faults of a faulty round: 429/500/529, resets and lost answers, seeded from the run's PRNG. */
function roundFaults(rng: Rng): FaultConfig {
  const level = 0.03 + rng.float() * 0.05;
  return {
    rate429: level,
    rate500: level,
    rate529: level,
    resetMidUpload: 0.04,
    lostUploadAnswer: 0.1,
    retryAfterSeconds: 1,
    // The listing shows deleted copies a little longer (files-api.md: "shortly after deletion").
    deleteListLagMs: 2_000,
    seed: rng.derive(),
  };
}

/** Turns faults on for a share of rounds; returns whether this round has them. */
function maybeFaults(ctx: RunContext): boolean {
  const faulty = ctx.rng.chance(FAULT_ROUND_SHARE);
  ctx.ws.emu.setFaults(faulty ? roundFaults(ctx.rng) : {});
  if (faulty) ctx.counters.faultRounds++;
  return faulty;
}

/** Seeds a foreign file colliding in name and size with some of the paths a change just wrote. */
function seedOnLanded(ctx: RunContext, landed: readonly string[]): void {
  for (const rel of landed) {
    if (!ctx.rng.chance(0.2)) continue;
    const abs = path.join(ctx.ws.root, rel);
    if (!fs.existsSync(abs)) continue;
    const content = ctx.rng.chance(0.5) ? fs.readFileSync(abs) : ctx.rng.bytes(fs.statSync(abs).size);
    seedForeign(ctx.ws, remoteName(rel), content);
    ctx.counters.foreignSeeded++;
  }
}

/** Changes the tree and seeds colliding foreign files; returns a short description. */
function change(ctx: RunContext, lo: number, hi: number): string {
  const log = randomChanges(ctx.ws.root, ctx.rng, ctx.rng.int(lo, hi), ctx.graveyard);
  seedOnLanded(ctx, log.landed);
  return Object.entries(log.kinds)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

/** One sync round: changes, then `sync`, SIGKILLed after a random delay in most rounds. */
export async function syncRound(ctx: RunContext, i: number): Promise<void> {
  const faulty = maybeFaults(ctx);
  const what = i === 0 ? 'first sync of the whole tree' : change(ctx, 1, 8);
  const killAfter = ctx.rng.chance(0.65) ? ctx.rng.int(150, i === 0 ? 8000 : 3000) : null;
  const r = await ctx.ws.cli.sync(killAfter, 300_000);
  if (r.killed && killAfter !== null) ctx.counters.syncKills++;
  if (r.killed && killAfter === null) ctx.counters.syncTimeouts++;
  const end = r.killed ? (killAfter === null ? 'KILLED at the time limit' : `killed after ${killAfter} ms`) : `exit ${r.code}`;
  ctx.log(`sync round ${i + 1}${faulty ? ' (faults)' : ''}: ${what}; ${end}`);
}

/** One daemon round: start it, change the tree while it runs, then SIGKILL it (or stop it cleanly). */
export async function daemonRound(ctx: RunContext, i: number): Promise<void> {
  const faulty = maybeFaults(ctx);
  const daemon = new DaemonRun(ctx.ws.cli);
  const changes: string[] = [];
  for (let b = ctx.rng.int(1, 3); b > 0; b--) {
    await delay(ctx.rng.int(200, 2500));
    changes.push(change(ctx, 1, 5));
  }
  let end: string;
  if (ctx.rng.chance(0.7)) {
    await delay(ctx.rng.int(0, 3000));
    const wasRunning = daemon.running;
    const r = await daemon.kill();
    if (wasRunning && r.killed) ctx.counters.daemonKills++;
    end = wasRunning ? 'killed' : `had exited by itself (${r.code} ${r.signal ?? ''})`;
  } else {
    await delay(ctx.rng.int(2000, 5000));
    const wasRunning = daemon.running;
    const r = await daemon.stop();
    end = wasRunning
      ? `stopped (exit ${r.code}${r.killed ? ', needed SIGKILL' : ''})`
      : `had exited by itself (${r.code} ${r.signal ?? ''})`;
  }
  if (end.startsWith('had exited')) ctx.counters.daemonSelfExits++;
  ctx.log(`daemon round ${i + 1}${faulty ? ' (faults)' : ''}: ${changes.join(' | ')}; ${end}`);
}

/** The soak: runs at ~30% faults (429/500/529 and resets) plus 10% lost answers, never killed. */
export async function soak(ctx: RunContext, runs: number): Promise<(number | null)[]> {
  const exits: (number | null)[] = [];
  for (let i = 0; i < runs; i++) {
    ctx.ws.emu.setFaults({
      rate429: 0.09,
      rate500: 0.09,
      rate529: 0.09,
      resetMidUpload: 0.03,
      lostUploadAnswer: 0.1,
      retryAfterSeconds: 1,
      deleteListLagMs: 2_000,
      seed: ctx.rng.derive(),
    });
    const what = change(ctx, 3, 10);
    const r = await ctx.ws.cli.sync(null, 600_000);
    if (r.killed) ctx.counters.syncTimeouts++;
    exits.push(r.killed ? null : r.code);
    ctx.log(`soak run ${i + 1}: ${what}; ${r.killed ? 'KILLED at the time limit' : `exit ${r.code}`} in ${(r.ms / 1000).toFixed(1)} s`);
  }
  return exits;
}

/** Faults off, then `sync` until it exits 0 (at most `max` runs). */
export async function converge(ctx: RunContext, max = 3): Promise<{ runs: number; converged: boolean }> {
  ctx.ws.emu.setFaults({});
  for (let run = 1; run <= max; run++) {
    const r = await ctx.ws.cli.sync(null, 600_000);
    ctx.log(`converging sync ${run}: ${r.killed ? 'KILLED at the time limit' : `exit ${r.code}`}`);
    if (r.code === 0) return { runs: run, converged: true };
  }
  return { runs: max, converged: false };
}
