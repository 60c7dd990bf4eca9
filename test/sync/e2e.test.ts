// `files-sync sync` end to end: the built CLI, the emulator over HTTP, a real temp folder and a
// real ledger file.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { isValidRemoteName } from '../../src/sync/names.js';
import {
  emulator,
  expectExactState,
  localHashes,
  requestTotals,
  runCli,
  sha256,
  syncSetup,
  writeTree,
  type SyncSetup,
} from '../helpers/sync.js';

let emu: Emulator;
let setup: SyncSetup;
afterEach(async () => {
  setup?.cleanup();
  await emu?.close();
});

const LONG_PATH = `${'deep-folder-'.repeat(9)}/${'nested-name-'.repeat(9)}/${'file-with-a-long-name-'.repeat(4)}.txt`;
const TEMP_FILES = [
  'notes.txt~',
  '.notes.txt.swp',
  'download.part',
  'x.crdownload',
  '.~lock.doc#',
  '~$report.docx',
  '.DS_Store',
  'Thumbs.db',
];

describe('sync of a varied tree', () => {
  beforeEach(async () => {
    emu = await emulator();
    setup = syncSetup(emu, { maxFileBytes: 1000 });
  });

  it('uploads exactly one file per synced path, skips what it must, and leaves foreign files alone', async () => {
    const foreign = [
      emu.seed({ filename: 'a.txt', content_base64: Buffer.from('someone else').toString('base64') }),
      emu.seed({
        filename: 'report.pdf',
        content_base64: Buffer.from('%PDF-1.4').toString('base64'),
        downloadable: true,
      }),
    ];
    expect(LONG_PATH.length).toBeGreaterThan(255);
    writeTree(setup.root, {
      'a.txt': 'hello',
      'docs/guide.md': '# Guide\n',
      'docs/deeper/still/data.json': '{"a":1}',
      'unicode/café ünïcödé 日本.txt': 'unicode',
      'with spaces/a file name.txt': 'spaces',
      'forbidden/a<b>:c"d|e?f*g\\h.txt': 'forbidden characters',
      [LONG_PATH]: 'long path',
      'empty.txt': '',
      README: 'plain text without an extension',
      blob: Buffer.from([0, 1, 2, 3, 255]),
      'too-big.bin': Buffer.alloc(2000, 7),
      ...Object.fromEntries(TEMP_FILES.map((f) => [f, 'temp'])),
    });
    execFileSync('mkfifo', [path.join(setup.root, 'pipe')]);
    const outside = path.join(setup.dir, 'outside.txt');
    fs.writeFileSync(outside, 'outside the root');
    fs.symlinkSync(outside, path.join(setup.root, 'link-out.txt'));

    const result = await setup.sync();
    expect(result.code, result.stderr).toBe(1); // the file over the cap is a recorded failure
    expect(result.stdout).toMatch(/failed: too-big\.bin: too large/);

    const skip = new Set(['too-big.bin', ...TEMP_FILES]);
    const expected = localHashes(setup.root, (rel) => !skip.has(rel));
    expect(expected.size).toBe(10);
    expectExactState(
      emu,
      setup,
      expected,
      foreign.map((f) => f.id),
    );

    const ours = emu.state().files.filter((f) => f.owner === 'self');
    for (const f of ours) expect(isValidRemoteName(f.filename), f.filename).toBe(true);
    const mimeOf = (name: string) => ours.find((f) => f.filename === name)?.mime_type;
    expect(mimeOf('docs∕guide.md')).toBe('text/plain');
    expect(mimeOf('docs∕deeper∕still∕data.json')).toBe('application/json');
    expect(mimeOf('README')).toBe('text/plain');
    expect(mimeOf('blob')).toBe('application/octet-stream');
    expect(ours.some((f) => f.filename.length <= 255 && f.filename.endsWith('.txt') && f.filename.startsWith('deep-folder'))).toBe(true);

    // status and ls report it; resolve gives applications the id.
    const ls = await runCli(['ls', '--config', setup.configFile, '--json'], setup.env);
    const rows = JSON.parse(ls.stdout) as { path: string; file_id: string; mime_type: string }[];
    expect(rows.map((r) => r.path).sort()).toEqual([...expected.keys()].sort());
    const resolved = await runCli(['resolve', '--config', setup.configFile, 'docs/guide.md'], setup.env);
    expect(resolved.stdout.trim()).toBe(rows.find((r) => r.path === 'docs/guide.md')!.file_id);
    expect((await runCli(['resolve', '--config', setup.configFile, 'nope.txt'], setup.env)).code).toBe(1);
    const status = await runCli(['status', '--config', setup.configFile, '--json'], setup.env);
    const s = JSON.parse(status.stdout) as {
      tracked: { files: number };
      failures: { path: string }[];
      foreignFiles: number;
    };
    expect(s.tracked.files).toBe(10);
    expect(s.failures.map((f) => f.path)).toEqual(['too-big.bin']);
    expect(s.foreignFiles).toBe(2);

    // A second run changes nothing and is still exit 1 for the file that is too large.
    const again = await setup.sync();
    expect(again.code).toBe(1);
    expectExactState(
      emu,
      setup,
      expected,
      foreign.map((f) => f.id),
    );
  });
});

describe('sync of changes', () => {
  beforeEach(async () => {
    emu = await emulator();
    setup = syncSetup(emu);
  });

  it('uploads and deletes exactly what changed, and a no-op sync only lists', async () => {
    writeTree(setup.root, {
      'keep.txt': 'keep',
      'modify.txt': 'v1',
      'delete.txt': 'bye',
      'old-name.txt': 'moving',
      'touch.txt': 'same',
    });
    expect((await setup.sync()).code).toBe(0);
    emu.resetCounters();

    fs.writeFileSync(path.join(setup.root, 'modify.txt'), 'v2 is longer');
    fs.rmSync(path.join(setup.root, 'delete.txt'));
    fs.writeFileSync(path.join(setup.root, 'added.txt'), 'new');
    fs.renameSync(path.join(setup.root, 'old-name.txt'), path.join(setup.root, 'new-name.txt'));
    const future = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(setup.root, 'touch.txt'), future, future);

    const result = await setup.sync();
    expect(result.code, result.stderr).toBe(0);
    const totals = requestTotals(emu);
    expect(totals['POST /v1/files']).toBe(3); // modify, add, rename (the new name)
    expect(totals['DELETE /v1/files/{id}']).toBe(3); // modify's old version, delete, rename's old name
    expect(totals['GET /v1/files']).toBe(1);
    expectExactState(emu, setup, localHashes(setup.root));
    expect(
      emu
        .state()
        .files.map((f) => f.filename)
        .sort(),
    ).toEqual(['added.txt', 'keep.txt', 'modify.txt', 'new-name.txt', 'touch.txt']);

    // Nothing changed: one list call per 1000 remote files, nothing else.
    emu.resetCounters();
    const noop = await setup.sync(['--json']);
    expect(noop.code).toBe(0);
    expect(requestTotals(emu)).toEqual({ 'GET /v1/files': 1 });
    const report = JSON.parse(noop.stdout) as { uploaded: number; unchanged: number; apiRequests: number };
    expect(report).toMatchObject({ uploaded: 0, unchanged: 5, apiRequests: 1 });
  });

  it('lists once per thousand remote files on a first sync, then looks up only its own ids (GA)', async () => {
    for (let i = 0; i < 1500; i++) emu.seed({ filename: `other-${i}.txt`, content_base64: '' });
    writeTree(setup.root, { 'a.txt': 'a' });
    expect((await setup.sync()).code).toBe(0);
    expect(requestTotals(emu)).toMatchObject({ 'GET /v1/files': Math.ceil(1500 / 1000) });
    emu.resetCounters();
    expect((await setup.sync()).code).toBe(0);
    // One owned id: one ids[] look-up costs less than the two pages of the 1,501 files last seen.
    expect(requestTotals(emu)).toEqual({ 'GET /v1/files?ids[]': 1 });
  });

  it('--dry-run prints the plan and changes nothing, remote or ledger', async () => {
    writeTree(setup.root, { 'a.txt': 'a', 'b.txt': 'b' });
    expect((await setup.sync()).code).toBe(0);
    fs.writeFileSync(path.join(setup.root, 'a.txt'), 'changed');
    fs.rmSync(path.join(setup.root, 'b.txt'));
    const ledgerBefore = sha256(fs.readFileSync(path.join(setup.stateDir, 'ledger.db')));
    emu.resetCounters();
    const dry = await setup.sync(['--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^ {2}changed +a\.txt {2}\(\d+ B\)$/m);
    expect(dry.stdout).toMatch(/^ {2}removed +b\.txt {2}file_/m);
    expect(requestTotals(emu)).toEqual({ 'GET /v1/files': 1 });
    expect(sha256(fs.readFileSync(path.join(setup.stateDir, 'ledger.db')))).toBe(ledgerBefore);
  });
});
