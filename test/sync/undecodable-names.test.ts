// Rule 9 (the folder's contents are untrusted): a file whose name is invalid UTF-8 reads, in Node,
// as the same text as a valid name holding U+FFFD. Such an entry used to shield the row of the
// valid name from deletion once that file went: whoever writes into the folder could keep any
// deleted file's copy (and its row) for good. The CLI, the emulator over HTTP, a real folder.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, expectExactState, localHashes, runCli, syncSetup, type SyncSetup } from '../helpers/sync.js';

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
