// The invariants a converged workspace must hold, checked from the emulator's inspection dump, the
// ledger's map (`files-sync ls --json`), `status --json` and the local tree (DESIGN.md rules 1-3).
import Database from 'better-sqlite3';
import path from 'node:path';
import type { EmulatorState } from '../../src/emulator/index.js';
import { remoteName } from '../../src/sync/names.js';
import type { CliRunner } from './cli.js';
import { listTree, type LocalFile } from './tree.js';

/** A file another application put in the workspace, as seeded. */
export interface ForeignFile {
  id: string;
  filename: string;
  sha256: string;
}

/** One row of `files-sync ls --json`. */
export interface MapRow {
  path: string;
  file_id: string;
  size: number;
}

/** Everything the checker reads. */
export interface Evidence {
  local: LocalFile[];
  map: MapRow[];
  state: EmulatorState;
  foreign: ForeignFile[];
  /** Ids `status --json` lists as unclaimed copies (none when the field is absent). */
  unclaimed: string[];
  /** Exit code of `files-sync status`. */
  statusExit: number | null;
  /** Result of `PRAGMA integrity_check` on the ledger ("ok" when sound). */
  integrity: string;
}

/** The invariants, each counted in violations (0 everywhere is a pass). */
export const INVARIANTS = {
  lostFiles: 'a local file without a mapped remote copy (unmapped, or its id is gone)',
  wrongContent: "a mapped remote copy whose sha256 differs from the local file's",
  staleMap: 'a map entry for a path that does not exist locally',
  duplicates: 'an extra own copy of a mapped file (same remote name, not mapped, not an unclaimed copy), or one id mapped twice',
  orphans: 'an own stored file neither mapped nor listed as an unclaimed copy',
  foreignTouched: 'a foreign file deleted or changed (id gone, other sha256 or name)',
  foreignAdopted: 'a foreign file mapped to a local path',
  ledgerOpens: '`files-sync status` failed to open the ledger',
  ledgerIntegrity: 'PRAGMA integrity_check is not "ok"',
} as const;

export type InvariantName = keyof typeof INVARIANTS;

/** Counts by invariant and the detail of each violation. */
export interface CheckResult {
  counts: Record<InvariantName, number>;
  details: string[];
  /** Unclaimed copies reported by status (not a violation; shown in the report). */
  unclaimed: number;
}

/** Checks the evidence; pure, so the self-test can plant faults and see each one caught. */
export function checkInvariants(ev: Evidence): CheckResult {
  const counts = Object.fromEntries(Object.keys(INVARIANTS).map((k) => [k, 0])) as Record<InvariantName, number>;
  const details: string[] = [];
  const flag = (name: InvariantName, detail: string) => {
    counts[name]++;
    details.push(`${name}: ${detail}`);
  };
  const stored = new Map(ev.state.files.map((f) => [f.id, f]));
  const foreignIds = new Set(ev.foreign.map((f) => f.id));
  const unclaimed = new Set(ev.unclaimed);
  const mapByPath = new Map(ev.map.map((r) => [r.path, r]));
  const localByPath = new Map(ev.local.map((f) => [f.rel, f]));
  const mappedIds = new Map<string, string>();
  for (const row of ev.map) {
    const other = mappedIds.get(row.file_id);
    if (other !== undefined) flag('duplicates', `${row.file_id} is mapped to both ${other} and ${row.path}`);
    mappedIds.set(row.file_id, row.path);
    if (!localByPath.has(row.path)) flag('staleMap', `${row.path} → ${row.file_id}`);
    if (foreignIds.has(row.file_id) || (stored.has(row.file_id) && stored.get(row.file_id)!.owner !== 'self'))
      flag('foreignAdopted', `${row.path} → ${row.file_id}`);
  }
  for (const file of ev.local) {
    const row = mapByPath.get(file.rel);
    const remote = row ? stored.get(row.file_id) : undefined;
    if (!row) flag('lostFiles', `${file.rel} is not mapped`);
    else if (!remote) flag('lostFiles', `${file.rel} → ${row.file_id}, which the workspace no longer holds`);
    else if (remote.sha256 !== file.sha256)
      flag('wrongContent', `${file.rel} → ${row.file_id}: remote ${remote.sha256.slice(0, 12)}, local ${file.sha256.slice(0, 12)}`);
  }
  const localNames = new Set(ev.local.map((f) => remoteName(f.rel)));
  for (const f of ev.state.files) {
    if (f.owner !== 'self' || mappedIds.has(f.id) || unclaimed.has(f.id)) continue;
    if (localNames.has(f.filename)) flag('duplicates', `${f.id} "${f.filename}" is an unmapped extra copy`);
    else flag('orphans', `${f.id} "${f.filename}" (${f.size_bytes} B)`);
  }
  for (const f of ev.foreign) {
    const now = stored.get(f.id);
    if (!now) flag('foreignTouched', `${f.id} "${f.filename}" was deleted`);
    else if (now.sha256 !== f.sha256 || now.filename !== f.filename) flag('foreignTouched', `${f.id} "${f.filename}" was changed`);
  }
  if (ev.statusExit !== 0) flag('ledgerOpens', `files-sync status exited ${ev.statusExit}`);
  if (ev.integrity !== 'ok') flag('ledgerIntegrity', ev.integrity);
  return { counts, details, unclaimed: unclaimed.size };
}

/** Ids in `status --json`'s unclaimed copies, whatever shape the field takes (absent: none). */
export function unclaimedIds(status: unknown): string[] {
  const s = (status ?? {}) as Record<string, unknown>;
  const field = s.unclaimedCopies ?? s.unclaimed;
  if (!Array.isArray(field)) return [];
  return field
    .map((item: unknown) => {
      if (typeof item === 'string') return item;
      const o = (item ?? {}) as Record<string, unknown>;
      const id = o.id ?? o.fileId ?? o.file_id;
      return typeof id === 'string' ? id : null;
    })
    .filter((id): id is string => id !== null);
}

/** `PRAGMA integrity_check` on the ledger, opened read-only. */
export function ledgerIntegrity(ledgerFile: string): string {
  try {
    const db = new Database(ledgerFile, { readonly: true, fileMustExist: true });
    try {
      const rows = db.pragma('integrity_check') as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).join('; ');
    } finally {
      db.close();
    }
  } catch (err) {
    return `cannot open: ${(err as Error).message}`;
  }
}

/** Gathers the evidence: the tree, `ls --json`, `status --json`, the inspection dump and the ledger. */
export async function gather(
  cli: CliRunner,
  root: string,
  stateDir: string,
  state: () => EmulatorState | Promise<EmulatorState>,
  foreign: ForeignFile[],
): Promise<Evidence> {
  const ls = await cli.run('ls', ['--json'], 60_000);
  const status = await cli.run('status', ['--json'], 60_000);
  let map: MapRow[];
  let statusJson: unknown;
  try {
    map = ls.code === 0 ? (JSON.parse(ls.stdout) as MapRow[]) : [];
    statusJson = status.code === 0 ? (JSON.parse(status.stdout) as unknown) : null;
  } catch (err) {
    throw new Error(`files-sync ls/status printed something that is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    local: listTree(root),
    map,
    state: await state(),
    foreign,
    unclaimed: unclaimedIds(statusJson),
    statusExit: status.code,
    integrity: ledgerIntegrity(path.join(stateDir, 'ledger.db')),
  };
}
