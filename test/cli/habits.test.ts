// The habits of the command line: "did you mean" for commands, flags and config keys, help for
// every command, --version, JSON errors with line:column, and resolve's paths and reasons.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { emulator, runCli, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

describe('command-line habits', () => {
  let emu: Emulator;
  let setup: SyncSetup;
  beforeAll(async () => {
    emu = await emulator();
    setup = syncSetup(emu);
    writeTree(setup.root, { 'README.md': '# habits readme', 'notes/a.txt': 'habits a', 'x.tmp~': 'editor backup' });
    fs.symlinkSync('/etc/hostname', path.join(setup.root, 'link'));
    expect((await setup.sync()).code).toBe(0);
  });
  afterAll(async () => {
    setup.cleanup();
    await emu.close();
  });

  it('suggests the command, the flag and the config key meant', async () => {
    const command = await runCli(['synk']);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command 'synk': did you mean sync\?/);
    const flag = await runCli(['sync', '--dry-rn']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown option '--dry-rn': did you mean --dry-run\?/);
    const file = path.join(setup.dir, 'typo.json');
    fs.writeFileSync(file, JSON.stringify({ root: setup.root, exlude: ['*.log'] }));
    const key = await runCli(['ls', '--config', file]);
    expect(key.code).toBe(2);
    expect(key.stderr).toMatch(/unknown key "exlude" \(did you mean "exclude"\?\)/);
  });

  it('help for every command, --version, and JSON errors located by line and column', async () => {
    const help = await runCli(['resolve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: files-sync resolve \[options\] <path>/);
    // `init --config` names the file it writes (never looked for in ./); `help emulator` is the emulator's own help.
    const init = await runCli(['init', '--help']);
    expect(init.stdout).toMatch(/--config <file> +the config file to write \(default\s+\$XDG_CONFIG_HOME/);
    expect(init.stdout).not.toMatch(/sync\.config\.json/);
    const emulatorHelp = await runCli(['help', 'emulator']);
    expect(emulatorHelp.code).toBe(0);
    expect(emulatorHelp.stdout + emulatorHelp.stderr).toMatch(/--port/);
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const file = path.join(setup.dir, 'broken.json');
    fs.writeFileSync(file, '{\n  "root": "x"\n  "exclude": []\n}\n');
    const broken = await runCli(['ls', '--config', file]);
    expect(broken.stderr).toMatch(/broken\.json:3:3 is not valid JSON/);
  });

  it('resolve: ./README.md like README.md, /etc/passwd outside the root, reasons for the rest', async () => {
    const args = (p: string) => ['resolve', '--config', setup.configFile, p];
    const plain = await runCli(args('README.md'), setup.env, setup.dir);
    expect(plain.code).toBe(0);
    const dotted = await runCli(args('./README.md'), setup.env, setup.dir);
    expect(dotted.stdout).toBe(plain.stdout);
    const inside = await runCli(args('./a.txt'), setup.env, path.join(setup.root, 'notes'));
    expect(inside.stdout).toMatch(/^file_/);
    const outside = await runCli(args('/etc/passwd'), setup.env);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/\/etc\/passwd is outside the root/);
    expect((await runCli(args('x.tmp~'), setup.env)).stderr).toMatch(/not synced: it is excluded/);
    expect((await runCli(args('link'), setup.env)).stderr).toMatch(/not synced: it is a symbolic link/);
    expect((await runCli(args('nope.txt'), setup.env)).stderr).toMatch(/not synced: there is no such file/);
  });
});
