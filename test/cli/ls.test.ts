// `files-sync ls` pages through the ledger: the map it prints over several pages is the whole map,
// in path order, byte for byte as one JSON array (and one line per file in text).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { fillLedger } from '../helpers/ledger.js';
import { runCli, tempDir } from '../helpers/sync.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('files-sync ls', () => {
  it('prints every row of a ledger that spans several pages, in path order, as one JSON array', async () => {
    dir = tempDir('fs-ls-');
    const root = path.join(dir, 'root');
    const stateDir = path.join(dir, 'state');
    fs.mkdirSync(root);
    fs.mkdirSync(stateDir, { mode: 0o700 });
    const ledgerFile = path.join(stateDir, 'ledger.db');
    fillLedger(ledgerFile, 2_345); // two full pages of 1,000 and a part
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify({ root, stateDir }));

    const db = new Database(ledgerFile, { readonly: true });
    const expected = (
      db.prepare('SELECT path, file_id, size, mime_type, uploaded_at FROM files ORDER BY path').all() as Record<string, unknown>[]
    ).map((r) => ({ path: r.path, file_id: r.file_id, size: r.size, mime_type: r.mime_type, uploaded_at: r.uploaded_at }));
    db.close();
    expect(expected).toHaveLength(2_345);

    const json = await runCli(['ls', '--json', '--config', configFile]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toBe(`${JSON.stringify(expected, null, 2)}\n`);

    const text = await runCli(['ls', '--config', configFile]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2_345);
    expect(lines.map((l) => l.split('  ').at(-1))).toEqual(expected.map((r) => r.path));
  });

  it('prints an empty array for an empty ledger', async () => {
    dir = tempDir('fs-ls-');
    const stateDir = path.join(dir, 'state');
    fs.mkdirSync(path.join(dir, 'root'));
    fs.mkdirSync(stateDir, { mode: 0o700 });
    fillLedger(path.join(stateDir, 'ledger.db'), 0);
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify({ root: path.join(dir, 'root'), stateDir }));
    const json = await runCli(['ls', '--json', '--config', configFile]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toBe('[]\n');
  });
});
