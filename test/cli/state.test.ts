// State that is hard to lose and never silently duplicated: the root's real path names the state
// directory, and a lost one makes the next sync hold its uploads until `files-sync adopt`.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { TEST_KEY, emulator, runCli, tempDir, writeTree } from '../helpers/sync.js';

describe('state directories', () => {
  let emu: Emulator;
  let dir: string;
  let root: string;
  const envOf = (state: string) => ({
    HOME: dir,
    XDG_STATE_HOME: path.join(dir, state),
    ANTHROPIC_API_KEY: TEST_KEY,
    ANTHROPIC_BASE_URL: emu.url,
  });
  const ours = () => emu.state().files.filter((f) => f.owner === 'self');
  beforeAll(async () => {
    emu = await emulator();
  });
  afterAll(async () => emu.close());
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // One emulator for the file: the contents carry a tag (and so a size) per test, so that one
  // test's uploads are not another's lookalikes.
  const setup = (tag: string) => {
    dir = tempDir('fs-state-');
    root = path.join(dir, 'folder');
    writeTree(root, { 'a.txt': `alpha ${tag}`, 'docs/b.md': `# bee ${tag}`, 'c.csv': `1,2,${tag}\n` });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['a.txt', 'docs/b.md', 'c.csv']) fs.utimesSync(path.join(root, f), past, past);
  };

  it('sync --root LINK after sync --root DIR uploads nothing', async () => {
    setup('link-1');
    const before = ours().length;
    const first = await runCli(['sync', '--root', root], envOf('s'));
    expect(first.code, first.stderr).toBe(0);
    expect(ours().length - before).toBe(3);
    const link = path.join(dir, 'link');
    fs.symlinkSync(root, link);
    const second = await runCli(['sync', '--root', link], envOf('s'));
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect(ours().length - before).toBe(3);
    expect(fs.readdirSync(path.join(dir, 's', 'files-sync'))).toHaveLength(1);
  });

  it('a lost state directory: the sync warns and holds, adopt --dry-run and adopt take the copies over', async () => {
    setup('lost-22');
    const before = ours().length;
    // The copies are made a minute after the files last changed, on the API's clock (adopt then
    // takes them as the files' present content; copies made within seconds would be re-sent).
    emu.setClockOffset(60_000);
    try {
      expect((await runCli(['sync', '--root', root], envOf('first'))).code).toBe(0);
    } finally {
      emu.setClockOffset(0);
    }
    // The state is lost: another XDG_STATE_HOME (or rm -rf of the state directory).
    const lost = await runCli(['sync', '--root', root], envOf('second'));
    expect(lost.code, lost.stdout + lost.stderr).toBe(3);
    expect(lost.stdout + lost.stderr).toMatch(
      /3 files are not uploaded: the workspace already holds files with the same name and size.*files-sync adopt --dry-run/,
    );
    expect(ours().length - before).toBe(3);
    // Held again on the next run, though the new ledger owns no copy to look up (a run that looked
    // its owned ids up instead of listing the workspace uploaded every held file again).
    const again = await runCli(['sync', '--root', root], envOf('second'));
    expect(again.code, again.stdout + again.stderr).toBe(3);
    expect(ours().length - before).toBe(3);
    const status = await runCli(['status', '--root', root], envOf('second'));
    expect(status.stdout).toMatch(/held uploads: 3 files are not uploaded/);
    // A second remote copy of one name and size makes that path ambiguous.
    emu.seed({ filename: 'a.txt', content_base64: Buffer.from('alpha lost-22').toString('base64'), owner: 'someone' });
    const dry = await runCli(['adopt', '--dry-run', '--root', root], envOf('second'));
    expect(dry.stdout).toMatch(/would adopt +file_\S+ +docs\/b\.md/);
    expect(dry.stdout).toMatch(/ambiguous +a\.txt/);
    expect(dry.stdout).toMatch(/dry run: would adopt 2 files, 1 ambiguous/);
    const adopted = await runCli(['adopt', '--root', root], envOf('second'));
    expect(adopted.code, adopted.stderr).toBe(1);
    expect(adopted.stdout).toMatch(/adopted 2 files, 1 ambiguous/);
    // An adopt that left a path ambiguous (exit 1) did not settle the hold: status still says it.
    const heldStill = await runCli(['status', '--root', root], envOf('second'));
    expect(heldStill.stdout).toMatch(/^state: failing: 3 files are not uploaded/m);
    const after = await runCli(['sync', '--root', root, '--json'], envOf('second'));
    const report = JSON.parse(after.stdout) as { uploaded: number; alreadyRemote: string[] };
    expect(report.uploaded).toBe(0);
    expect(report.alreadyRemote).toEqual(['a.txt']);
    expect(ours().length - before).toBe(3);
  });

  it('after an adopt that took the held copies over, status no longer asks for adopt, and names the adopt run', async () => {
    setup('adopting-4444'); // a tag of its own length: sizes apart from the other tests' copies
    emu.setClockOffset(60_000); // the copies made a minute after the files last changed (see above)
    try {
      expect((await runCli(['sync', '--root', root], envOf('first'))).code).toBe(0);
    } finally {
      emu.setClockOffset(0);
    }
    expect((await runCli(['sync', '--root', root], envOf('second'))).code).toBe(3);
    const adopted = await runCli(['adopt', '--root', root], envOf('second'));
    expect(adopted.code, adopted.stdout + adopted.stderr).toBe(0);
    const status = await runCli(['status', '--root', root], envOf('second'));
    expect(status.stdout).toMatch(/^state: up to date$/m);
    expect(status.stdout).not.toMatch(/held uploads|files-sync adopt/);
    expect(status.stdout).toMatch(/^last adopt: \S+, exit 0$/m);
    const json = JSON.parse((await runCli(['status', '--json', '--root', root], envOf('second'))).stdout) as {
      lastRuns: { adopt: { exitCode: number } | null };
      alreadyRemote: number;
    };
    expect(json.lastRuns.adopt?.exitCode).toBe(0);
    expect(json.alreadyRemote).toBe(0);
  });

  it("once a full listing found no look-alike, another application's same-name file does not hold a new upload", async () => {
    setup('settled-7');
    const before = ours().length;
    expect((await runCli(['sync', '--root', root], envOf('s'))).code).toBe(0);
    // Another application stores a file with the name and size a new local file will have.
    emu.seed({
      filename: 'new.txt',
      content_base64: Buffer.from('fresh settled-7').toString('base64'),
      owner: 'someone',
    });
    writeTree(root, { 'new.txt': 'fresh settled-7' });
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(root, 'new.txt'), past, past);
    const next = await runCli(['sync', '--root', root, '--json'], envOf('s'));
    expect(next.code, next.stderr).toBe(0);
    expect((JSON.parse(next.stdout) as { alreadyRemote: string[] }).alreadyRemote).toEqual([]);
    expect(ours().length - before).toBe(4);
    expect(emu.state().files.filter((f) => f.owner === 'someone' && f.filename === 'new.txt')).toHaveLength(1);
  });

  it('a fresh ledger holds look-alikes until sync --allow-duplicates says they are not ours', async () => {
    setup('allowing-99');
    emu.seed({
      filename: 'a.txt',
      content_base64: Buffer.from('alpha allowing-99').toString('base64'),
      owner: 'someone',
    });
    const before = ours().length;
    const held = await runCli(['sync', '--root', root], envOf('s'));
    expect(held.code, held.stderr).toBe(3);
    expect(held.stdout + held.stderr).toMatch(/1 file is not uploaded.*--allow-duplicates/);
    expect(ours().length - before).toBe(2);
    // Held again on the next run: the hold is not forgotten because a run ended.
    expect((await runCli(['sync', '--root', root], envOf('s'))).code).toBe(3);
    const allowed = await runCli(['sync', '--root', root, '--allow-duplicates'], envOf('s'));
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(ours().length - before).toBe(3);
    expect((await runCli(['sync', '--root', root], envOf('s'))).code).toBe(0);
  });
});
