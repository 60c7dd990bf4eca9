// Keeping the evidence of a failed run: the temp tree, state dir, CLI outputs, the emulator's
// inspection dump and the violations, under torture/results/failures/<seed>-<time>/.
import fs from 'node:fs';
import path from 'node:path';
import type { EmulatorState } from '../../src/emulator/index.js';
import { REPO } from './cli.js';

/** Copies the run's folder and writes the dumps; returns the evidence folder. */
export function keepEvidence(seed: number, runDir: string, state: EmulatorState | null, extra: Record<string, unknown>): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dest = path.join(REPO, 'torture', 'results', 'failures', `${seed}-${stamp}`);
  fs.mkdirSync(dest, { recursive: true });
  // The run folder holds tree/, state/ (ledger), logs/ (every CLI run's output) and config.json.
  // Sockets (a killed daemon's control.sock) cannot be copied and say nothing: leave them out.
  fs.cpSync(runDir, path.join(dest, 'run'), { recursive: true, filter: (src) => !fs.lstatSync(src).isSocket() });
  if (state) fs.writeFileSync(path.join(dest, 'emulator-state.json'), `${JSON.stringify(state, null, 2)}\n`);
  for (const [name, value] of Object.entries(extra))
    fs.writeFileSync(path.join(dest, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
  return dest;
}
