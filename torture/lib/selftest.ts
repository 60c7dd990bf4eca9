// The suite's proof that it can fail: a clean sync must pass the checker, then a planted lost copy,
// extra copy and deleted foreign file must each be caught, one at a time.
import fs from 'node:fs';
import path from 'node:path';
import { remoteName } from '../../src/sync/names.js';
import { checkInvariants, gather, type CheckResult, type InvariantName } from './check.js';
import { Rng } from './prng.js';
import { buildTree, listTree } from './tree.js';
import { apiDelete, apiUpload, openWorkspace, seedColliding } from './workspace.js';

/** One step of the self-test: what was planted and what the checker counted after it. */
export interface SelfTestStep {
  planted: 'nothing' | 'lost copy' | 'extra copy' | 'deleted foreign file';
  /** The invariant that must rise by exactly one at this step (none for the clean baseline). */
  expect: InvariantName | null;
  result: CheckResult;
}

/** Runs the self-test in a fresh workspace; `keep` leaves the temp folder for a look. */
export async function runSelfTest(keep = false): Promise<{ steps: SelfTestStep[]; dir: string }> {
  const ws = await openWorkspace('files-sync-torture-self-');
  const steps: SelfTestStep[] = [];
  try {
    const rng = new Rng(7);
    buildTree(ws.root, rng, { files: 8, big: false });
    const files = listTree(ws.root);
    seedColliding(ws, rng, files, 0.25, 2, 2);
    const sync = await ws.cli.sync(null, 120_000);
    if (sync.code !== 0) throw new Error(`the self-test's sync exited ${sync.code}: ${sync.stderr}`);
    const check = async () => checkInvariants(await gather(ws.cli, ws.root, ws.stateDir, () => ws.emu.state(), ws.foreign));
    steps.push({ planted: 'nothing', expect: null, result: await check() });

    const map = JSON.parse((await ws.cli.run('ls', ['--json'])).stdout) as { path: string; file_id: string }[];
    const [first, second] = map;
    if (!first || !second) throw new Error('the self-test tree did not sync two files');
    await apiDelete(ws.emu, first.file_id);
    steps.push({ planted: 'lost copy', expect: 'lostFiles', result: await check() });

    await apiUpload(ws.emu, remoteName(second.path), fs.readFileSync(path.join(ws.root, second.path)));
    steps.push({ planted: 'extra copy', expect: 'duplicates', result: await check() });

    const victim = ws.foreign[0]!;
    await apiDelete(ws.emu, victim.id);
    steps.push({ planted: 'deleted foreign file', expect: 'foreignTouched', result: await check() });
    return { steps, dir: ws.dir };
  } finally {
    await ws.close();
    if (!keep) fs.rmSync(ws.dir, { recursive: true, force: true });
  }
}

/**
 * Judges the steps: the baseline is clean, and each planted fault raises its own invariant by one
 * and no other. Returns the problems (empty: the checker works).
 */
export function judgeSelfTest(steps: readonly SelfTestStep[]): string[] {
  const problems: string[] = [];
  let previous: CheckResult['counts'] | null = null;
  for (const step of steps) {
    const counts = step.result.counts;
    for (const [name, n] of Object.entries(counts) as [InvariantName, number][]) {
      const before = previous ? previous[name] : 0;
      const want = before + (step.expect === name ? 1 : 0);
      if (n !== want)
        problems.push(
          `after planting ${step.planted}: ${name} is ${n}, expected ${want} (${step.result.details.join('; ') || 'no details'})`,
        );
    }
    previous = counts;
  }
  return problems;
}
