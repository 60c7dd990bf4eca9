// Rule 9 (the folder's contents are untrusted): a file whose name is invalid UTF-8 reads, in Node,
// as the same text as a valid name holding U+FFFD. Such an entry used to shield the row of the
// valid name from deletion once that file went: whoever writes into the folder could keep any
// deleted file's copy (and its row) for good. The CLI, the emulator over HTTP, a real folder.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, expectExactState, localHashes, runCli, sha256, syncSetup, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  setup?.cleanup();
  await emu?.close();
  setup = emu = undefined;
});

it("a deleted file's copy goes although a sibling whose name is invalid UTF-8 reads as its name", async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  const legit = path.join(setup.root, 'repl\ufffdchar.txt');
  fs.writeFileSync(legit, 'legit');
  fs.writeFileSync(path.join(setup.root, 'other.txt'), 'other');
  const first = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(first.code, first.stderr).toBe(0);
  expect(
    emu
      .state()
      .files.map((f) => f.filename)
      .sort(),
  ).toEqual(['other.txt', 'repl\ufffdchar.txt']);

  // The same text, other bytes: 0xFF where the valid name has EF BF BD.
  const rootBytes = Buffer.from(setup.root, 'utf8');
  fs.writeFileSync(Buffer.concat([rootBytes, Buffer.from('/repl\xffchar.txt', 'latin1')]), 'attacker');
  fs.rmSync(legit);
  const second = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(second.stderr).not.toMatch(/unexpected error/);
  expect(emu.state().files.map((f) => f.filename)).toEqual(['other.txt']);
  // The entry that does not decode is never read, and is told at the next run.
  const third = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(third.code).toBe(1);
  expect(third.stdout).toContain('failed: repl\\ufffdchar.txt: the name is not valid UTF-8');
  expectExactState(
    emu,
    setup,
    localHashes(setup.root, (rel) => rel === 'other.txt'),
  );
});

it('a valid name holding U+FFFD is synced once beside invalid names that read as it, and the walk stays complete', async () => {
  emu = await emulator();
  setup = syncSetup(emu);
  const rootBytes = Buffer.from(setup.root, 'utf8');
  const invalid = (rel: string) => Buffer.concat([rootBytes, Buffer.from(`/${rel}`, 'latin1')]);
  // A file and a folder with valid names, each beside entries whose bytes (0xFF, 0xFE) read as the same text.
  fs.writeFileSync(path.join(setup.root, 'repl\ufffd.txt'), 'legit');
  fs.writeFileSync(invalid('repl\xff.txt'), 'attacker one');
  fs.writeFileSync(invalid('repl\xfe.txt'), 'attacker two');
  fs.mkdirSync(path.join(setup.root, 'dir\ufffd'));
  fs.writeFileSync(path.join(setup.root, 'dir\ufffd', 'in.txt'), 'inside');
  fs.writeFileSync(invalid('dir\xff'), 'a file reading as the folder');
  fs.writeFileSync(path.join(setup.root, 'other.txt'), 'other');
  const expected = (legit: string) =>
    new Map([
      ['dir\ufffd/in.txt', sha256('inside')],
      ['other.txt', sha256('other')],
      ['repl\ufffd.txt', sha256(legit)],
    ]);

  const first = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toContain('3 new, 0 changed, 0 removed, 0 unchanged, 0 failed');
  expectExactState(emu, setup, expected('legit'));
  expect(emu.state().files).toHaveLength(3);

  // An edit is one upload, and a delete elsewhere goes: the walk did not lose the folder.
  fs.writeFileSync(path.join(setup.root, 'repl\ufffd.txt'), 'legit, edited');
  fs.rmSync(path.join(setup.root, 'other.txt'));
  const second = await runCli(['sync', '--config', setup.configFile], setup.env);
  expect(second.code, second.stderr).toBe(0);
  expect(second.stdout).toContain('0 new, 1 changed, 1 removed, 1 unchanged, 0 failed');
  expect(second.stdout).toContain('1 old copy deleted');
  const edited = expected('legit, edited');
  edited.delete('other.txt');
  expectExactState(emu, setup, edited);
});
