// The config says where the API key is sent (api.baseUrl) and which folder is read (root), so it
// is taken only from a file of files-sync's own user or root that others cannot write, and never
// from inside the root it names (DESIGN.md rule 9: whoever writes into the folder is untrusted).
// A server on loopback stands for the author of a planted config: it records what reaches it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, sharedFolder, tempDir } from '../helpers/sync.js';

/** Not a real key: what a planted config would make files-sync send to its author's server. */
const KEY = 'sk-ant-api03-planted-config-test';

let dir: string;
let root: string;
let server: http.Server;
let baseUrl: string;
let requests: number;
beforeEach(async () => {
  dir = tempDir('fs-config-file-');
  root = path.join(dir, 'root');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'a.txt'), 'a');
  requests = 0;
  server = http.createServer((req, res) => {
    requests++;
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a config at `file` naming `root` and the recording server as the API. */
function writeConfig(file: string, mode = 0o644): void {
  fs.writeFileSync(file, JSON.stringify({ root, stateDir: path.join(dir, 'state'), api: { baseUrl, contract: 'ga' } }));
  fs.chmodSync(file, mode);
}

/** `files-sync sync` with the key in the environment, from `cwd`, with no config of the user's own. */
function sync(args: string[], cwd: string) {
  return runCli(['sync', ...args], { ANTHROPIC_API_KEY: KEY, XDG_CONFIG_HOME: path.join(dir, 'no-config') }, cwd);
}

describe('the config file', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'planted by another user where the operator runs files-sync: refused, and no request leaves with the key',
    async () => {
      // A shared folder anyone may write into (sticky, as /tmp): another user leaves a config there.
      const shared = sharedFolder(dir);
      const planted = path.join(shared, 'sync.config.json');
      writeConfig(planted);
      fs.chownSync(planted, 65534, 65534);
      const result = await sync([], shared);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(
        /config .*sync\.config\.json is owned by uid 65534: files-sync reads its configuration only from a file of its own user \(uid 0\) or root/,
      );
      expect(requests).toBe(0);
      expect(`${result.stdout}${result.stderr}`).not.toContain(KEY);
      // Its owner's own config, or root's, is read as before.
      fs.chownSync(planted, 0, 0);
      const own = await sync([], shared);
      expect(own.stderr).not.toMatch(/is owned by uid/);
      expect(requests).toBeGreaterThan(0);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    'of another user, refused to a user who is not root: the advice is one it can follow (a copy of its own, not chown)',
    async () => {
      fs.chmodSync(dir, 0o755);
      const file = path.join(dir, 'sync.config.json');
      writeConfig(file);
      fs.chownSync(file, 1234, 1234);
      const result = await runCli(['sync', '--config', file], { ANTHROPIC_API_KEY: KEY, HOME: dir }, dir, { uid: 65534, gid: 65534 });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/is owned by uid 1234: .*\(uid 65534\) or root.*if you trust it, copy it to a file of your own/);
      expect(result.stderr).not.toMatch(/chown/);
      expect(requests).toBe(0);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    'of another user in the folder a user runs files-sync from: the copy it suggests, made as printed, is read, with the same root',
    async () => {
      // The planted config names its root relative to itself; the user has a config of its own
      // elsewhere ($XDG_CONFIG_HOME), which a copy must not overwrite.
      fs.chmodSync(dir, 0o755);
      const shared = sharedFolder(dir);
      const planted = path.join(shared, 'sync.config.json');
      fs.writeFileSync(planted, JSON.stringify({ root: '../root', stateDir: '../state', api: { baseUrl, contract: 'ga' } }));
      fs.chownSync(planted, 1234, 1234);
      const xdg = path.join(dir, 'xdg');
      fs.mkdirSync(path.join(xdg, 'files-sync'), { recursive: true });
      fs.writeFileSync(path.join(xdg, 'files-sync', 'config.json'), '{"root": "/nowhere"}');
      fs.chownSync(path.join(xdg, 'files-sync', 'config.json'), 65534, 65534);
      const env = { HOME: path.join(dir, 'home'), XDG_CONFIG_HOME: xdg };
      const as = { uid: 65534, gid: 65534 };
      const refused = await runCli(['status'], env, shared, as);
      expect(refused.code, refused.stderr).toBe(2);
      const advice = /\((cp .*?); then run files-sync with --config (.*?)\)$/m.exec(refused.stderr.trim());
      expect(advice, refused.stderr).not.toBeNull();
      const copied = spawnSync('sh', ['-c', advice![1]!], { cwd: shared, env: { ...process.env, ...env }, uid: 65534, gid: 65534 });
      expect(copied.status, String(copied.stderr)).toBe(0);
      expect(fs.readFileSync(path.join(xdg, 'files-sync', 'config.json'), 'utf8')).toBe('{"root": "/nowhere"}');
      const own = await runCli(['status', '--config', advice![2]!.replace(/^'(.*)'$/, '$1')], env, shared, as);
      expect(own.code, own.stderr).toBe(0);
      expect(own.stdout).toContain(`root: ${fs.realpathSync(root)}`);
    },
  );

  it('that any user can write: refused, and no request leaves with the key; the chmod it suggests can be pasted as printed', async () => {
    // A folder whose name a shell would split and run a command from, were it not quoted.
    const odd = path.join(dir, "team files; touch pasted 'x'");
    fs.mkdirSync(odd);
    const file = path.join(odd, 'sync.config.json');
    writeConfig(file, 0o666);
    const result = await sync(['--config', file], dir);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/config .*sync\.config\.json can be written by any user \(mode 666\).*chmod o-w/);
    expect(requests).toBe(0);
    const command = /; (chmod o-w .*)$/m.exec(result.stderr)?.[1];
    expect(command, result.stderr).toBeDefined();
    const pasted = spawnSync('sh', ['-c', command!], { cwd: dir, encoding: 'utf8' });
    expect(pasted.status, pasted.stderr).toBe(0);
    expect(fs.statSync(file).mode & 0o777).toBe(0o664);
    expect(fs.existsSync(path.join(dir, 'pasted'))).toBe(false);
  });

  it('inside the root it names: refused (whoever writes into the folder could rewrite it, and it would be uploaded)', async () => {
    const inside = path.join(root, 'sync.config.json');
    writeConfig(inside);
    const result = await sync(['--config', inside], dir);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/config .*sync\.config\.json lies inside the sync root .*move it out of the root/);
    expect(requests).toBe(0);
    // init will not write one there either.
    fs.rmSync(inside);
    const init = await runCli(['init', '--root', root, '--config', inside], {}, dir);
    expect(init.code, init.stderr).toBe(2);
    expect(init.stderr).toMatch(/lies inside the sync root/);
    expect(fs.existsSync(inside)).toBe(false);
  });
});

describe('the API key file (api.keyFile)', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'owned by another user: refused, not taken (their key would sync the folder into their workspace)',
    async () => {
      // Mode 0600 passes the readability check, but the key is another user's: whoever owns the
      // file chooses the workspace the folder is uploaded into.
      const keyFile = path.join(dir, 'key');
      fs.writeFileSync(keyFile, KEY, { mode: 0o600 });
      fs.chownSync(keyFile, 65534, 65534);
      const file = path.join(dir, 'sync.config.json');
      fs.writeFileSync(file, JSON.stringify({ root, stateDir: path.join(dir, 'state'), api: { baseUrl, contract: 'ga', keyFile } }));
      const env = { XDG_CONFIG_HOME: path.join(dir, 'no-config') };
      const result = await runCli(['sync', '--config', file], env, dir);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/api\.keyFile.* is owned by uid 65534: .*chown 0/);
      expect(requests).toBe(0);
      // Its owner's own key file is read as before.
      fs.chownSync(keyFile, 0, 0);
      await runCli(['sync', '--config', file], env, dir);
      expect(requests).toBeGreaterThan(0);
    },
  );
});

describe('a config found through a symbolic link', () => {
  it.skipIf(process.getuid?.() !== 0)(
    "that another user made: refused, even to the operator's own config (its relative paths would be the link's folder's)",
    async () => {
      // The operator's config names its folder relative to itself, as a project's config may.
      const own = path.join(dir, 'project');
      fs.mkdirSync(path.join(own, 'root'), { recursive: true });
      const config = path.join(own, 'sync.config.json');
      fs.writeFileSync(config, JSON.stringify({ root: 'root', stateDir: path.join(dir, 'state'), api: { baseUrl, contract: 'ga' } }));
      // Another user links it from a shared folder, beside a folder of theirs named alike.
      const shared = sharedFolder(dir);
      fs.mkdirSync(path.join(shared, 'root'));
      fs.writeFileSync(path.join(shared, 'root', 'planted.txt'), 'theirs');
      const link = path.join(shared, 'sync.config.json');
      fs.symlinkSync(config, link);
      fs.lchownSync(link, 65534, 65534);
      const result = await sync([], shared);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/config .*sync\.config\.json is a symbolic link of uid 65534: .*rm /);
      expect(requests).toBe(0);
      // The operator's own link is followed as before.
      fs.lchownSync(link, 0, 0);
      const ownLink = await sync([], shared);
      expect(ownLink.stderr).not.toMatch(/symbolic link/);
      expect(requests).toBeGreaterThan(0);
    },
  );
});
