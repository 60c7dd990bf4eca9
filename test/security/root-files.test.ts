// Files the program reads for itself from the root (DESIGN.md rule 9, issue 8 item 4): a FIFO or
// a link to /dev/zero named `.filesyncignore` is a clear error for that run, never a hang or an
// exhausted memory, in `sync` and in the daemon (which keeps its filter, logs once, stops on SIGTERM).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, daemonStatus, killDaemons, startDaemon } from '../helpers/daemon.js';
import { emulator, spawnCli, syncSetup, waitFor, type CliResult, type SyncSetup } from '../helpers/sync.js';

/** Resident set of a process in MB, from /proc (null once it is gone). */
export function rssMb(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Runs `sync` with two watchdogs, so that the code under test cannot hang the suite or eat the
 * machine: killed after `timeoutMs`, or as soon as its RSS passes `maxRssMb`.
 */
async function boundedSync(setup: SyncSetup, timeoutMs = 30_000, maxRssMb = 400): Promise<CliResult & { killedFor: string | null }> {
  const { child, done } = spawnCli(['sync', '--config', setup.configFile], setup.env);
  let killedFor: string | null = null;
  const timer = setTimeout(() => {
    killedFor = `still running after ${timeoutMs} ms`;
    child.kill('SIGKILL');
  }, timeoutMs);
  const watch = setInterval(() => {
    const rss = rssMb(child.pid!);
    if (rss !== null && rss > maxRssMb) {
      killedFor = `RSS ${Math.round(rss)} MB`;
      child.kill('SIGKILL');
    }
  }, 50);
  const result = await done;
  clearTimeout(timer);
  clearInterval(watch);
  return { ...result, killedFor };
}

function mkfifo(file: string): void {
  const made = spawnSync('mkfifo', [file], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mkfifo ${file} failed: ${made.stderr}`);
}

let emu: Emulator;
beforeEach(async () => {
  emu = await emulator();
});
afterEach(async () => {
  await killDaemons();
  await emu.close();
});

describe('sync with a hostile .filesyncignore', () => {
  const cases: [string, (file: string) => void, RegExp][] = [
    ['a FIFO', mkfifo, /not a regular file/],
    ['a symbolic link to /dev/zero', (file) => fs.symlinkSync('/dev/zero', file), /symbolic link/],
  ];
  for (const [what, make, message] of cases) {
    it(`stops with a clear error when it is ${what}`, async () => {
      const setup = syncSetup(emu);
      try {
        fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
        make(path.join(setup.root, '.filesyncignore'));
        const result = await boundedSync(setup);
        expect(result.killedFor, result.stderr).toBeNull();
        expect(result.code, result.stderr).toBe(3);
        expect(result.stderr).toMatch(/\.filesyncignore/);
        expect(result.stderr).toMatch(message);
        // Nothing was uploaded under a filter that could not be read.
        expect(emu.state().files).toEqual([]);
      } finally {
        setup.cleanup();
      }
    });
  }

  it('refuses one that others can write, giving the chmod to run', async () => {
    const setup = syncSetup(emu);
    try {
      fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
      const file = path.join(setup.root, '.filesyncignore');
      fs.writeFileSync(file, 'a.txt\n');
      fs.chmodSync(file, 0o666);
      const result = await boundedSync(setup);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(/\.filesyncignore .*can be written by others/);
      expect(result.stderr).toContain(`chmod o-w ${file}`);
      expect(emu.state().files).toEqual([]);
    } finally {
      setup.cleanup();
    }
  });

  // Whoever can write into a shared folder (a sticky 1777 root, say) must not be able to say what
  // stops being synced: an excluded path's copy is deleted, and the files may not be theirs.
  it.skipIf(process.getuid?.() !== 0)(
    'refuses one owned by another user: its rules would delete the copies of files not theirs',
    async () => {
      const setup = syncSetup(emu);
      try {
        fs.mkdirSync(path.join(setup.root, 'alice'));
        for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(setup.root, 'alice', `r${i}.txt`), `alice ${i}`);
        fs.writeFileSync(path.join(setup.root, 'kept.txt'), 'not excluded');
        expect((await setup.sync()).code).toBe(0);
        const before = emu.state().files.map((f) => f.id);
        const file = path.join(setup.root, '.filesyncignore');
        fs.writeFileSync(file, 'alice/\n');
        fs.chownSync(file, 65534, 65534);
        const result = await boundedSync(setup);
        expect(result.code, result.stderr).toBe(3);
        expect(result.stderr).toMatch(/\.filesyncignore .*is owned by uid 65534: .*the folder's owner \(uid 0\)/);
        expect(emu.state().files.map((f) => f.id)).toEqual(before);
        // The folder's owner is trusted: the service reads a folder people own (systemd/files-sync.service).
        fs.chownSync(setup.root, 65534, 65534);
        const owned = await boundedSync(setup);
        expect(owned.code, owned.stderr).toBe(0);
        expect(emu.state().files.filter((f) => f.filename.startsWith('r'))).toEqual([]); // excluded: their copies went
      } finally {
        setup.cleanup();
      }
    },
  );

  it('refuses one over 1 MiB', async () => {
    const setup = syncSetup(emu);
    try {
      fs.writeFileSync(path.join(setup.root, '.filesyncignore'), `${'#'.repeat(1024 * 1024)}\n`);
      const result = await boundedSync(setup);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toMatch(/\.filesyncignore.*1 MiB/);
    } finally {
      setup.cleanup();
    }
  });

  // A review's reproduction: `ignore` matches each `**` between two segments with a backtracking
  // regular expression, so one such rule hung the sync on a folder 31 deep (and whoever writes into
  // the folder decides its depth). Refused, naming its line; an accepted one on the same tree ends.
  it('refuses a rule too costly to match, naming its line; a rule it takes ends on a deep tree', async () => {
    const setup = syncSetup(emu);
    try {
      const costly = `a/${Array(12).fill('**').join('/x/')}/b`;
      fs.writeFileSync(path.join(setup.root, '.filesyncignore'), `# rules\n*.tmp\n${costly}\n`, { mode: 0o644 });
      const deep = path.join(setup.root, 'a', ...Array<string>(30).fill('x'));
      fs.mkdirSync(deep, { recursive: true });
      fs.writeFileSync(path.join(deep, 'f.txt'), 'f');
      fs.writeFileSync(path.join(setup.root, 'top.txt'), 'top');
      const refused = await boundedSync(setup);
      expect(refused.killedFor, refused.stderr).toBeNull();
      expect(refused.code, refused.stderr).toBe(3);
      expect(refused.stderr).toMatch(/\.filesyncignore line 3 .*split it into simpler rules/);
      expect(emu.state().files).toEqual([]);

      // The review's rule, 12 `**` in a row: one run, matched as one (before, still running after 30 s).
      fs.writeFileSync(path.join(setup.root, '.filesyncignore'), `a/${Array(12).fill('**').join('/')}/b\n`, { mode: 0o644 });
      const run = await boundedSync(setup);
      expect(run.killedFor, run.stderr).toBeNull();
      expect(run.code, run.stderr).toBe(0);

      // Two in the middle of an anchored rule are taken: the same tree, synced but for a/x/x/b-like paths.
      fs.writeFileSync(path.join(setup.root, '.filesyncignore'), 'a/**/x/**/b\n', { mode: 0o644 });
      const taken = await boundedSync(setup);
      expect(taken.killedFor, taken.stderr).toBeNull();
      expect(taken.code, taken.stderr).toBe(0);
      expect(
        emu
          .state()
          .files.map((f) => f.filename)
          .sort(),
      ).toEqual(['a\u2215' + 'x\u2215'.repeat(30) + 'f.txt', 'top.txt']);
    } finally {
      setup.cleanup();
    }
  });

  // A review's reproduction: with the include glob `*-*-*-*-*.pdf`, one file named with 250 dashes
  // held the sync for 24 s (picomatch backtracks over each `*`), and at every walk. Refused at load.
  it('refuses an include glob whose matching time grows as a power of a name, before any request', async () => {
    const setup = syncSetup(emu, { include: ['*.txt', '*-*-*-*-*.pdf'] });
    try {
      fs.writeFileSync(path.join(setup.root, 'ok.txt'), 'ok');
      fs.writeFileSync(path.join(setup.root, '-'.repeat(250)), 'evil');
      const refused = await boundedSync(setup);
      expect(refused.killedFor, refused.stderr).toBeNull();
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/include.*more than 2 `\*` in one name \(5\).*a name's length/);
      expect(emu.state().files).toEqual([]);
    } finally {
      setup.cleanup();
    }
  });
});

describe('the daemon with a hostile .filesyncignore', () => {
  for (const [what, make] of [
    ['a FIFO', mkfifo],
    ['a symbolic link to /dev/zero', (file: string) => fs.symlinkSync('/dev/zero', file)],
  ] as const) {
    it(`keeps its filter, logs once and stops on SIGTERM when it becomes ${what}`, async () => {
      const setup = daemonSetup(emu);
      try {
        fs.writeFileSync(path.join(setup.root, '.filesyncignore'), 'skip.txt\n');
        fs.writeFileSync(path.join(setup.root, 'a.txt'), 'a');
        const daemon = await startDaemon(setup);
        const staged = path.join(setup.root, 'staged');
        make(staged);
        fs.renameSync(staged, path.join(setup.root, '.filesyncignore'));
        await daemon.waitForLine(/\.filesyncignore/);
        // A full reconciliation reads the ignore file again: still one line, and the old filter holds.
        process.kill(daemon.pid, 'SIGUSR1');
        fs.writeFileSync(path.join(setup.root, 'skip.txt'), 'skipped by the old filter');
        fs.writeFileSync(path.join(setup.root, 'b.txt'), 'b');
        const synced = () => emu.state().files.some((f) => f.filename === 'b.txt');
        await waitFor(synced, 'b.txt synced under the old filter', 30_000);
        await daemon.waitForLine(/reconciled \(.*SIGUSR1/, 30_000);
        const names = emu
          .state()
          .files.map((f) => f.filename)
          .sort();
        expect(names).toEqual(['a.txt', 'b.txt']);
        expect((await daemonStatus(setup)).pid).toBe(daemon.pid);
        expect(rssMb(daemon.pid)).toBeLessThan(400);
        expect(daemon.count(/\.filesyncignore/), daemon.lines().join('\n')).toBe(1);
        const stopped = await daemon.stop('SIGTERM');
        expect(stopped.signal).toBeNull();
        expect(stopped.code).toBe(0);
      } finally {
        setup.cleanup();
      }
    });
  }
});
