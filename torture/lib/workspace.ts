// One torture workspace: the emulator (in this process, never in a process the suite kills), a
// temp folder with the tree, the state dir and the config, foreign files, and raw API calls.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FILES_BETA, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { remoteName } from '../../src/sync/names.js';
import type { ForeignFile } from './check.js';
import { CliRunner, TORTURE_KEY } from './cli.js';
import type { Rng } from './prng.js';
import { randomSize, type LocalFile } from './tree.js';

/** A temp tree, state dir and config against an emulator on 127.0.0.1. */
export interface Workspace {
  emu: Emulator;
  dir: string;
  root: string;
  stateDir: string;
  cli: CliRunner;
  foreign: ForeignFile[];
  close(): Promise<void>;
}

/** Starts the emulator and lays out the folders; `settings` go into the config file. */
export async function openWorkspace(prefix: string, settings: Record<string, unknown> = {}): Promise<Workspace> {
  const emu = await startEmulator({ apiKey: TORTURE_KEY, host: '127.0.0.1' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const root = path.join(dir, 'tree');
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(root);
  const configFile = path.join(dir, 'config.json');
  const config = {
    root,
    stateDir,
    settleSeconds: 0,
    requestsPerMinute: 100_000,
    deleteDelaySeconds: 0.5,
    api: { baseUrl: emu.url },
    ...settings,
  };
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return {
    emu,
    dir,
    root,
    stateDir,
    cli: new CliRunner(configFile, path.join(dir, 'logs')),
    foreign: [],
    close: () => emu.close(),
  };
}

/** Seeds one foreign file (another application's) and remembers it for the checker. */
export function seedForeign(ws: Workspace, filename: string, content: Buffer): ForeignFile {
  const f = ws.emu.seed({ filename, content_base64: content.toString('base64') });
  const seeded = { id: f.id, filename: f.filename, sha256: f.sha256 };
  ws.foreign.push(seeded);
  return seeded;
}

/**
 * Seeds foreign files whose remote names and sizes collide with `files` (a share `share` of them,
 * at least `min`; half with the same bytes, half with other bytes of the same size) and `others`
 * files of random names. Returns how many it seeded.
 */
export function seedColliding(ws: Workspace, rng: Rng, files: readonly LocalFile[], share: number, min: number, others: number): number {
  let n = 0;
  const wanted = Math.min(files.length, Math.max(min, Math.round(files.length * share)));
  const chosen = new Set<string>();
  while (chosen.size < wanted) chosen.add(rng.pick(files).rel);
  for (const rel of chosen) {
    const abs = path.join(ws.root, rel);
    const size = fs.statSync(abs).size;
    seedForeign(ws, remoteName(rel), rng.chance(0.5) ? fs.readFileSync(abs) : rng.bytes(size));
    n++;
  }
  for (let i = 0; i < others; i++) {
    const name = rng.chance(0.5) ? `report ${rng.int(1, 9)}.pdf` : `foreign∕upload ${i}.${rng.pick(['txt', 'bin', 'csv'])}`;
    seedForeign(ws, name, rng.bytes(randomSize(rng)));
    n++;
  }
  return n;
}

function apiHeaders(): Record<string, string> {
  return { 'x-api-key': TORTURE_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': FILES_BETA };
}

/** Uploads a file through the Files API as files-sync would (owner `self`); returns its id. */
export async function apiUpload(emu: Emulator, filename: string, content: Buffer): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([content]), filename);
  const res = await fetch(`${emu.url}/v1/files`, { method: 'POST', headers: apiHeaders(), body: form });
  if (!res.ok) throw new Error(`upload of "${filename}" failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Deletes a file through the Files API. */
export async function apiDelete(emu: Emulator, id: string): Promise<void> {
  const res = await fetch(`${emu.url}/v1/files/${id}`, { method: 'DELETE', headers: apiHeaders() });
  if (!res.ok) throw new Error(`delete of ${id} failed: ${res.status} ${await res.text()}`);
}
