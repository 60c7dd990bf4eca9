// With followSymlinks, a link inside the root is the folder's writer's to point anywhere there. It
// must not expose what the sync itself would never read (rules 8 and 9): the state directory (the
// configured one, or any folder holding files-sync's state marker), an excluded folder, or an
// excluded file, whether the link names it or a folder the link leads to holds it. Before, only
// "inside the root" was checked: the ledger, its backups and excluded files were uploaded under
// the link's name.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { createFilter } from '../../src/local/filter.js';
import { statOne } from '../../src/local/stat-one.js';
import { walk } from '../../src/local/walk.js';
import { ensurePrivateDir } from '../../src/private.js';
import { emulator, ourNames, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator;
let setup: SyncSetup | undefined;
beforeAll(async () => {
  emu = await emulator();
});
afterEach(() => {
  setup?.cleanup();
  setup = undefined;
});
afterAll(async () => {
  await emu.close();
});

/** Our copies' names that a link must not have brought. */
const leaked = (pattern: RegExp) => ourNames(emu).filter((name) => pattern.test(name));

describe('followSymlinks never reads through a link what the sync would not read where it is', () => {
  it('the state directory inside the root: its ledger and backups stay local', async () => {
    setup = syncSetup(emu, { followSymlinks: true });
    const stateDir = path.join(setup.root, '.state');
    const config = JSON.parse(fs.readFileSync(setup.configFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(setup.configFile, JSON.stringify({ ...config, stateDir }));
    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
    const first = await setup.sync();
    expect(first.code, first.stderr).toBe(0);
    expect(fs.existsSync(path.join(stateDir, 'ledger.db'))).toBe(true);
    expect(fs.existsSync(path.join(stateDir, 'backups'))).toBe(true);
    fs.symlinkSync('.state/ledger.db', path.join(setup.root, 'innocent.db'));
    fs.symlinkSync('.state/backups', path.join(setup.root, 'photos'));
    fs.symlinkSync('.state', path.join(setup.root, 'state-link'));
    const second = await setup.sync();
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(leaked(/innocent|photos|state-link|ledger/)).toEqual([]);
    expect(ourNames(emu)).toContain('a.txt');
  });

  it('a folder holding our state marker under another name (a second state directory in the root)', async () => {
    setup = syncSetup(emu, { followSymlinks: true });
    const other = path.join(setup.root, 'archive');
    ensurePrivateDir(other); // marked as files-sync's, as every state directory is
    fs.writeFileSync(path.join(other, 'ledger.db'), 'a ledger of another files-sync');
    fs.mkdirSync(path.join(other, 'backups'));
    fs.writeFileSync(path.join(other, 'backups', 'ledger-1.db'), 'its backup');
    fs.symlinkSync('archive/ledger.db', path.join(setup.root, 'db-link'));
    fs.symlinkSync('archive/backups', path.join(setup.root, 'backups-link'));
    writeTree(setup.root, { 'b.txt': 'b' });
    const result = await setup.sync();
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(leaked(/archive|db-link|backups-link|ledger/)).toEqual([]);
    expect(ourNames(emu)).toContain('b.txt');
  });

  it('an excluded folder, an excluded file, and an excluded file inside a folder a link leads to', async () => {
    setup = syncSetup(emu, { followSymlinks: true, exclude: ['private/', 'shared/secret.txt'] });
    writeTree(setup.root, {
      'private/salaries.csv': 'EXCLUDED folder',
      'shared/secret.txt': 'EXCLUDED file',
      'shared/public.txt': 'public',
    });
    fs.symlinkSync('private/salaries.csv', path.join(setup.root, 'report.csv'));
    fs.symlinkSync('private', path.join(setup.root, 'open'));
    fs.symlinkSync('shared/secret.txt', path.join(setup.root, 'notes.txt'));
    fs.symlinkSync('shared', path.join(setup.root, 'mirror'));
    const result = await setup.sync();
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(leaked(/report|open|salaries|secret|notes/)).toEqual([]);
    // What the sync takes where it is, it takes through a link too.
    expect(ourNames(emu)).toEqual(expect.arrayContaining(['shared∕public.txt', 'mirror∕public.txt']));
  });

  it("the daemon's per-path look (statOne) says excluded or skipped, never the file", async () => {
    setup = syncSetup(emu);
    const root = setup.root;
    writeTree(root, { 'shared/secret.txt': 'EXCLUDED file', 'shared/public.txt': 'public', 'private/x.txt': 'x' });
    fs.symlinkSync('shared', path.join(root, 'mirror'));
    fs.symlinkSync('private/x.txt', path.join(root, 'x-link'));
    const filter = createFilter({ include: [], exclude: ['private/', 'shared/secret.txt'] });
    const options = { filter, followSymlinks: true, maxFileBytes: 1 << 20, known: () => undefined };
    expect(await statOne(root, 'mirror/secret.txt', options)).toBe('excluded');
    expect(await statOne(root, 'x-link', options)).toBe('skipped');
    expect(await statOne(root, 'mirror/public.txt', options)).toMatchObject({ path: 'mirror/public.txt', size: 6 });
  });

  it('include globs protect too: a link brings no file they leave out where it lies (the service reads what the writer may not)', async () => {
    setup = syncSetup(emu);
    const root = setup.root;
    writeTree(root, { 'pub/a.txt': 'a', 'private/key.txt': 'SECRET', 'notes/a.md': 'a', 'keys/id_rsa': 'SECRET' });
    fs.symlinkSync('../private/key.txt', path.join(root, 'pub', 'L.txt'));
    fs.symlinkSync('../private', path.join(root, 'pub', 'D'));
    fs.symlinkSync('../keys/id_rsa', path.join(root, 'notes', 'b.md'));
    const cases: [string[], string[]][] = [
      [['!private/**'], ['pub/L.txt', 'pub/D/key.txt']],
      [['*.md'], ['notes/b.md']],
    ];
    for (const [include, refused] of cases) {
      const filter = createFilter({ include, exclude: [] });
      const options = { filter, followSymlinks: true, maxFileBytes: 1 << 20, known: () => undefined };
      const walked = (await walk(root, options)).files.map((f) => f.path);
      expect(
        walked.filter((p) => refused.includes(p)),
        include.join(),
      ).toEqual([]);
      for (const p of refused) expect(await statOne(root, p, options), p).not.toHaveProperty('sha256');
    }
  });

  it('the walk and statOne give one verdict for a link inside a followed folder (else the daemon deletes what each walk uploads)', async () => {
    setup = syncSetup(emu);
    const root = setup.root;
    writeTree(root, { 'a/c.txt': 'c', 'a/d.txt': 'd' });
    fs.mkdirSync(path.join(root, 'b'));
    fs.symlinkSync('../a/c.txt', path.join(root, 'b', 'L')); // b/L is not taken where it lies (include a/**)
    fs.symlinkSync('../b', path.join(root, 'a', 'F')); // a/F leads to b
    fs.symlinkSync('d.txt', path.join(root, 'a', 'G')); // a link taken where it lies
    const filter = createFilter({ include: ['a/**'], exclude: [] });
    const options = { filter, followSymlinks: true, maxFileBytes: 1 << 20, known: () => undefined };
    const walked = (await walk(root, options)).files.map((f) => f.path).sort();
    expect(walked).toEqual(['a/G', 'a/c.txt', 'a/d.txt']);
    expect(await statOne(root, 'a/F/L', options)).toBe('excluded');
    expect(await statOne(root, 'a/G', options)).toMatchObject({ path: 'a/G' });
  });
});
