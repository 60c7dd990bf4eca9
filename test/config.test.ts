// Config loading and the API key: defaults, errors that name the key, key-file permissions.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_MAX_FILE_BYTES, defaultStateDir, loadApiKey, loadConfig, parseConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { sendsKeyInClear } from '../src/app.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-config-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeConfig(content: unknown): string {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('loadConfig', () => {
  it('fills every default and resolves paths against the config file', () => {
    const file = writeConfig({ root: 'data', stateDir: 'state' });
    const config = loadConfig({ configPath: file }, {}, '/');
    expect(config.root).toBe(path.join(dir, 'data'));
    expect(config.stateDir).toBe(path.join(dir, 'state'));
    expect(config).toMatchObject({
      include: [],
      exclude: [],
      followSymlinks: false,
      maxFileBytes: API_MAX_FILE_BYTES,
      deletes: { mode: 'mirror', maxCount: 500, maxShare: 0.5 },
      concurrency: 8,
      requestsPerMinute: 90,
      remoteNames: 'path',
      api: { baseUrl: 'https://api.anthropic.com', contract: 'ga', version: '2026-10-21', fullListHours: 24 },
      source: file,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets the command line and ANTHROPIC_BASE_URL override the file', () => {
    const file = writeConfig({ root: 'data' });
    const config = loadConfig({ configPath: file, root: 'other', stateDir: 's' }, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' }, '/tmp');
    expect(config.root).toBe('/tmp/other');
    expect(config.stateDir).toBe('/tmp/s');
    expect(config.api.baseUrl).toBe('http://127.0.0.1:9');
  });

  it('works without a file from --root alone', () => {
    const config = loadConfig({ root: dir }, { XDG_STATE_HOME: '/var/x', XDG_CONFIG_HOME: path.join(dir, 'none') }, dir);
    expect(config.root).toBe(dir);
    expect(config.stateDir.startsWith('/var/x/files-sync/')).toBe(true);
    expect(config.source).toBeNull();
  });

  it('ignores the "//" notes of the example file', () => {
    const config = loadConfig({ configPath: writeConfig({ '//': 'note', root: 'd', deletes: { '// mode': 'x', mode: 'keep' } }) }, {}, '/');
    expect(config.deletes.mode).toBe('keep');
  });

  it('ships an example config that loads', () => {
    const example = path.resolve(import.meta.dirname, '..', 'sync.config.example.json');
    if (!fs.existsSync(example)) return expect.fail('sync.config.example.json is missing');
    const config = loadConfig({ configPath: example }, {}, '/');
    expect(config.root).toBeTruthy();
  });

  const bad: [string, unknown, RegExp][] = [
    ['an unknown key', { root: 'd', rott: 1 }, /unknown key "rott"/],
    ['an unknown nested key', { root: 'd', deletes: { mood: 'x' } }, /unknown key "deletes\.mood"/],
    ['a wrong type', { root: 'd', concurrency: 'eight' }, /concurrency: .*number/],
    ['an out-of-range value', { root: 'd', deletes: { maxShare: 2 } }, /deletes\.maxShare/],
    ['a bad enum', { root: 'd', remoteNames: 'flat' }, /remoteNames/],
    ['a size over the API cap', { root: 'd', maxFileBytes: 600_000_000 }, /maxFileBytes/],
    ['no root', { concurrency: 2 }, /"root" is missing/],
    ['not an object', [1, 2], /expected a JSON object/],
    ['an unknown API contract', { root: 'd', api: { contract: 'v2' } }, /api\.contract/],
    ['an unknown API version', { root: 'd', api: { version: '2024-01-01' } }, /api\.version/],
    ['a workspace id with spaces', { root: 'd', api: { workspaceId: 'my workspace' } }, /api\.workspaceId/],
    ['a negative fullListHours', { root: 'd', api: { fullListHours: -1 } }, /api\.fullListHours/],
  ];
  for (const [what, content, message] of bad) {
    it(`names ${what} in one line`, () => {
      const file = writeConfig(content);
      let error: unknown;
      try {
        loadConfig({ configPath: file }, {}, '/');
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
      expect((error as ConfigError).exitCode).toBe(2);
    });
  }

  it('says when the file is not JSON or cannot be read', () => {
    expect(() => loadConfig({ configPath: writeConfig('{ root: ') }, {}, '/')).toThrow(/not valid JSON/);
    expect(() => loadConfig({ configPath: path.join(dir, 'missing.json') }, {}, '/')).toThrow(/cannot read config/);
  });

  it('takes the beta contract, the 2023-06-01 version and a workspace id', () => {
    const parsed = parseConfig(
      { root: 'd', api: { contract: 'beta', version: '2023-06-01', workspaceId: 'wrkspc_011CZkZaBF1tNoB5wlCeusgy' } },
      null,
    );
    expect(parsed.api).toMatchObject({
      contract: 'beta',
      version: '2023-06-01',
      workspaceId: 'wrkspc_011CZkZaBF1tNoB5wlCeusgy',
    });
  });

  it('refuses a key given twice in one object, naming it and where: the last would silently win', () => {
    const text = '{\n  "root": "d",\n  "deletes": { "mode": "keep" },\n  "deletes": { "maxCount": 100 }\n}';
    expect(() => loadConfig({ configPath: writeConfig(text) }, {}, '/')).toThrow(
      /config .*config\.json:4:3: the key "deletes" is given twice in one object .*keep one/,
    );
    const nested = '{ "root": "d", "deletes": { "mode": "keep", "maxCount": 5, "mode": "mirror" } }';
    expect(() => loadConfig({ configPath: writeConfig(nested) }, {}, '/')).toThrow(/the key "mode" is given twice/);
    // Notes may repeat; the same key in two objects, in arrays or as a value is no duplicate.
    const fine = '{ "//": "a", "//": "b", "root": "d", "exclude": ["root", "root"], "api": { "//": "root" } }';
    expect(loadConfig({ configPath: writeConfig(fine) }, {}, '/').exclude).toEqual(['root', 'root']);
  });

  it('refuses an empty --config, --root or --state-dir instead of using the default in its place', () => {
    const file = writeConfig({ root: 'data' });
    for (const overrides of [{ configPath: '' }, { configPath: file, root: '' }, { configPath: file, stateDir: '' }]) {
      expect(() => loadConfig(overrides, {}, dir)).toThrow(/(--config|--root|--state-dir) is empty/);
    }
  });

  it.skipIf(process.platform !== 'linux')('refuses a FIFO as the config or the key file instead of hanging on it', () => {
    const fifo = path.join(dir, 'fifo.json');
    expect(spawnSync('mkfifo', ['-m', '600', fifo]).status).toBe(0);
    expect(() => loadConfig({ configPath: fifo }, {}, '/')).toThrow(/config .*fifo\.json is not a regular file/);
    const config = loadConfig({ configPath: writeConfig({ root: 'd', api: { keyFile: 'fifo.json' } }) }, {}, '/');
    expect(() => loadApiKey(config, {})).toThrow(/fifo\.json is not a regular file/);
    // A directory is not a file either (it was told to chmod).
    const keys = loadConfig({ configPath: writeConfig({ root: 'd', api: { keyFile: '.' } }) }, {}, '/');
    expect(() => loadApiKey(keys, {})).toThrow(/is not a regular file/);
  });

  it('refuses a root marker outside the root: it would be there whichever disk is mounted', () => {
    for (const marker of ['../../etc/hostname', '/etc/hostname', 'a/../../b', '.', './']) {
      expect(() => parseConfig({ root: 'd', rootMarker: marker }, null), marker).toThrow(/rootMarker: must be a file inside the root/);
    }
    expect(parseConfig({ root: 'd', rootMarker: '.files-sync-root' }, null).rootMarker).toBe('.files-sync-root');
  });

  it('refuses a base URL with a user or password, and never prints the password', () => {
    const file = writeConfig({ root: 'd' });
    for (const url of [
      'http://user:s3cretpw@127.0.0.1:99999/',
      'https://user:s3cretpw@api.example.com/',
      'https:/user:s3cretpw@api.example.com',
      'user:s3cretpw@api.example.com',
      'https:///user:s3cretpw@host',
      ' https://user:s3cretpw@host',
      'https://user:s3cr/etpw@host',
      'https://user:s3c retpw@host',
      'https://user:s3c@retpw@host',
    ]) {
      let message = '';
      try {
        loadConfig({ configPath: file }, { ANTHROPIC_BASE_URL: url }, '/');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/ANTHROPIC_BASE_URL is not an http\(s\) URL without a user or password/);
      for (const part of ['s3c', 'retpw', 'etpw', 'user:']) expect(message, url).not.toContain(part);
    }
    for (const baseUrl of ['https://u:p@api.example.com', 'https:///u:p@host'])
      expect(() => parseConfig({ root: 'd', api: { baseUrl } }, null), baseUrl).toThrow(/api\.baseUrl: must hold no user or password/);
  });

  it('refuses the whole file system or a kernel file system as the root', () => {
    for (const root of ['/', '/proc', '/sys/kernel', '/dev', '/dev/pts']) {
      expect(() => loadConfig({ root, stateDir: path.join(dir, 's') }, {}, dir), root).toThrow(
        /root .* is (the whole file system|on a kernel file system): name the folder to sync/,
      );
    }
  });

  it.skipIf(!fs.existsSync('/dev/shm'))('takes a root in /dev/shm: a tmpfs of ordinary files', () => {
    const shm = fs.mkdtempSync('/dev/shm/fs-config-');
    try {
      expect(loadConfig({ root: shm, stateDir: path.join(dir, 's') }, {}, dir).root).toBe(shm);
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  it('refuses an exclude rule or include glob too costly to match on a deep tree, naming it; takes the usual ones', () => {
    expect(() => parseConfig({ root: 'd', exclude: ['**/src/**/test/**/*.snap'] }, null)).toThrow(/exclude\.0.*more `\*\*`/s);
    // picomatch (include) backtracks on the same shapes.
    expect(() => parseConfig({ root: 'd', include: ['a/**/x/**/y/**/b'] }, null)).toThrow(/include\.0.*more `\*\*`/s);
    const fine = ['**/node_modules/**', 'a/**/b', '**/a/**/b', 'a/**/b/**/c', 'a/**/**/**/b'];
    expect(parseConfig({ root: 'd', exclude: fine }, null).exclude).toEqual(fine);
  });

  it('parseConfig rejects a bad URL', () => {
    expect(() => parseConfig({ root: 'd', api: { baseUrl: 'ftp://x' } }, null)).toThrow(/api\.baseUrl/);
  });
});

describe('defaultStateDir', () => {
  it('uses $STATE_DIRECTORY under systemd, else one folder per root', () => {
    expect(defaultStateDir('/srv/a', { STATE_DIRECTORY: '/var/lib/files-sync' })).toBe('/var/lib/files-sync');
    const a = defaultStateDir('/srv/a', { XDG_STATE_HOME: '/s' });
    const b = defaultStateDir('/srv/b', { XDG_STATE_HOME: '/s' });
    expect(a).not.toBe(b);
    expect(a).toBe(defaultStateDir('/srv/a', { XDG_STATE_HOME: '/s' }));
    // A relative XDG_STATE_HOME is ignored, as the spec says: it would move with the current folder.
    expect(defaultStateDir('/srv/a', { XDG_STATE_HOME: 'rel', HOME: '/home/u' })).toMatch(/^\/home\/u\/\.local\/state\/files-sync\/a-/);
  });
});

describe('loadApiKey', () => {
  const KEY = 'sk-ant-test-secret-0123456789';
  const config = (extra: Record<string, unknown> = {}) => loadConfig({ configPath: writeConfig({ root: 'd', ...extra }) }, {}, '/');

  it('takes ANTHROPIC_API_KEY first', () => {
    expect(loadApiKey(config(), { ANTHROPIC_API_KEY: KEY })).toBe(KEY);
  });

  it('reads a key file of mode 0600 and refuses one others can read, giving the chmod', () => {
    const keyFile = path.join(dir, 'key');
    fs.writeFileSync(keyFile, `${KEY}\n`, { mode: 0o644 });
    fs.chmodSync(keyFile, 0o644);
    const c = config({ api: { keyFile } });
    expect(() => loadApiKey(c, {})).toThrow(/chmod 600/);
    try {
      loadApiKey(c, {});
    } catch (err) {
      expect(String(err)).not.toContain(KEY);
    }
    fs.chmodSync(keyFile, 0o600);
    expect(loadApiKey(c, {})).toBe(KEY);
  });

  it('reads the systemd credential', () => {
    const creds = path.join(dir, 'creds');
    fs.mkdirSync(creds);
    fs.writeFileSync(path.join(creds, 'anthropic-api-key'), KEY, { mode: 0o400 });
    expect(loadApiKey(config(), { CREDENTIALS_DIRECTORY: creds })).toBe(KEY);
  });

  it('says where a key may come from when there is none', () => {
    expect(() => loadApiKey(config(), {})).toThrow(/ANTHROPIC_API_KEY/);
  });
});

describe('sendsKeyInClear', () => {
  it('is true for plain http to another host, false for https and for loopback', () => {
    for (const url of ['http://api.example.com', 'http://10.0.0.5:8080/', 'http://[2001:db8::1]/'])
      expect(sendsKeyInClear(url), url).toBe(true);
    for (const url of [
      'https://api.anthropic.com',
      'http://127.0.0.1:8787',
      'http://localhost:9',
      'http://[::1]:9',
      'http://emu.localhost',
    ])
      expect(sendsKeyInClear(url), url).toBe(false);
  });
});
