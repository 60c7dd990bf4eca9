// The README's "Using it" lines, run as written and in order by sh on a fresh HOME against the
// emulator: each exit code and the key lines of its output.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { CLI, TEST_KEY, emulator, tempDir, writeTree } from '../helpers/sync.js';

const README = path.resolve(import.meta.dirname, '..', '..', 'README.md');

/** The first sh block after "## Using it", without the install line (the test runs the build). */
export function usingItLines(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Using it'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm '));
}

/** What each line must do: its exit code and lines its output must hold. */
const EXPECT: { starts: string; code: number; out?: RegExp[] }[] = [
  { starts: 'export ANTHROPIC_API_KEY', code: 0 },
  { starts: 'files-sync init', code: 0, out: [/wrote .*\.config\/files-sync\/config\.json/] },
  {
    starts: 'files-sync sync --dry-run',
    code: 0,
    out: [
      /^dry run: 3 new, 0 changed, 0 removed, 0 unchanged, 0 failed, 0 skipped/m,
      /^would upload 3 files, \d+ B; nothing was changed$/m,
      /^ {2}new +reports\/handbook\.pdf {2}\(17 B\)$/m,
    ],
  },
  {
    starts: 'files-sync sync ',
    code: 0,
    out: [/^3 new, 0 changed, 0 removed, 0 unchanged, 0 failed, 0 skipped; 0 old copies deleted, 0 orphans cleaned$/m],
  },
  { starts: 'files-sync ls', code: 0, out: [/^file_\S+ .* reports\/handbook\.pdf$/m] },
  { starts: 'files-sync resolve', code: 0, out: [/^file_\S+\n$/] },
  {
    starts: 'files-sync status',
    code: 0,
    out: [/^state: up to date$/m, /^tracked: 3 files/m, /^daemon: not running$/m],
  },
];

describe('the README "Using it" example', () => {
  let emu: Emulator;
  let home: string;
  beforeAll(async () => {
    emu = await emulator();
    home = tempDir('fs-readme-');
  });
  afterAll(async () => {
    await emu.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('runs as written, line by line, on a fresh HOME', async () => {
    const lines = usingItLines(fs.readFileSync(README, 'utf8'));
    expect(lines.map((l) => EXPECT.find((e) => `${l} `.startsWith(e.starts))?.starts)).toEqual(EXPECT.map((e) => e.starts));
    const shared = path.join(home, 'Documents', 'shared');
    writeTree(shared, {
      'reports/handbook.pdf': '%PDF-1.4 handbook',
      'notes/todo.txt': 'todo\n',
      'data.csv': 'a,b\n1,2\n',
    });
    const past = new Date(Date.now() - 60_000);
    for (const f of ['reports/handbook.pdf', 'notes/todo.txt', 'data.csv']) fs.utimesSync(path.join(shared, f), past, past);
    // `files-sync` on PATH is the build; the README's placeholder key is the emulator's.
    const bin = path.join(home, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'files-sync'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, {
      mode: 0o755,
    });
    const script = lines
      .map((line, i) => `{ ${line.replace('sk-ant-…', TEST_KEY)}\n} >"$OUT/${i}.out" 2>"$OUT/${i}.err"; echo $? >"$OUT/${i}.code"`)
      .join('\n');
    const out = path.join(home, 'out');
    fs.mkdirSync(out);
    // Asynchronous: the emulator answers from this process.
    await promisify(execFile)('sh', ['-c', script], {
      cwd: home,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: home, OUT: out, ANTHROPIC_BASE_URL: emu.url },
      timeout: 60_000,
    });
    lines.forEach((line, i) => {
      const want = EXPECT[i]!;
      const stdout = fs.readFileSync(path.join(out, `${i}.out`), 'utf8');
      const stderr = fs.readFileSync(path.join(out, `${i}.err`), 'utf8');
      const what = `${line}\n--- stdout\n${stdout}--- stderr\n${stderr}`;
      expect(Number(fs.readFileSync(path.join(out, `${i}.code`), 'utf8')), what).toBe(want.code);
      for (const re of want.out ?? []) expect(stdout, what).toMatch(re);
    });
    expect(fs.statSync(path.join(home, '.config', 'files-sync', 'config.json')).mode & 0o777).toBe(0o600);
  });
});
