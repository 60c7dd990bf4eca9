// `files-sync init` refuses what every later command would refuse, before it writes a config: an
// empty path option (a script's unset variable), the whole file system as the root, and a state
// directory that is the root itself. A refused init leaves the config it would replace alone.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, sharedFolder, tempDir } from '../helpers/sync.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let config: string;
beforeEach(() => {
  dir = tempDir('fs-init-');
  env = { HOME: dir, XDG_CONFIG_HOME: path.join(dir, 'config') };
  config = path.join(dir, 'config', 'files-sync', 'config.json');
  fs.mkdirSync(path.join(dir, 'data'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('files-sync init', () => {
  it('writes the config every later command finds', async () => {
    const r = await runCli(['init', '--root', path.join(dir, 'data')], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(config, 'utf8'))).toEqual({ root: fs.realpathSync(path.join(dir, 'data')) });
  });

  it('refuses an empty --config, --root or --state-dir, and leaves the existing config alone', async () => {
    expect((await runCli(['init', '--root', path.join(dir, 'data')], env)).code).toBe(0);
    const before = fs.readFileSync(config, 'utf8');
    for (const args of [
      ['--root', path.join(dir, 'data'), '--config', '', '--force'],
      ['--root', '', '--force'],
      ['--root', path.join(dir, 'data'), '--state-dir', '', '--force'],
    ]) {
      const r = await runCli(['init', ...args], env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/(--config|--root|--state-dir) is empty/);
    }
    expect(fs.readFileSync(config, 'utf8')).toBe(before);
  });

  it('refuses the whole file system as the root, and the root as the state directory', async () => {
    const whole = await runCli(['init', '--root', '/'], env);
    expect(whole.code).toBe(2);
    expect(whole.stderr).toMatch(/root \/ is the whole file system/);
    const same = await runCli(['init', '--root', path.join(dir, 'data'), '--state-dir', path.join(dir, 'data')], env);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/is the sync root itself/);
    expect(fs.existsSync(config)).toBe(false);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "writes no config through or over another user's link or file in a shared folder, with or without --force",
    async () => {
      // Another user links sync.config.json in a shared folder to a file of the operator's, or to
      // a place of their choosing where none is yet: init would write (and make) the file there.
      const shared = sharedFolder(dir);
      const victim = path.join(dir, 'victim');
      fs.writeFileSync(victim, "the operator's");
      const link = path.join(shared, 'sync.config.json');
      for (const [target, force] of [
        [victim, ['--force']],
        [path.join(dir, 'made'), []],
      ] as const) {
        fs.rmSync(link, { force: true });
        fs.symlinkSync(target, link);
        fs.lchownSync(link, 65534, 65534);
        const r = await runCli(['init', '--root', path.join(dir, 'data'), '--config', 'sync.config.json', ...force], env, shared);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/sync\.config\.json is a symbolic link of uid 65534, another user.*rm /);
      }
      expect(fs.readFileSync(victim, 'utf8')).toBe("the operator's");
      expect(fs.existsSync(path.join(dir, 'made'))).toBe(false);
      // A file of theirs is not written over either (it would stay theirs to rewrite).
      fs.rmSync(link);
      fs.writeFileSync(link, '{}');
      fs.chownSync(link, 65534, 65534);
      const over = await runCli(['init', '--root', path.join(dir, 'data'), '--config', link, '--force'], env);
      expect(over.code, over.stderr).toBe(2);
      expect(over.stderr).toMatch(/is a file of uid 65534, another user/);
      expect(fs.readFileSync(link, 'utf8')).toBe('{}');
    },
  );
});
