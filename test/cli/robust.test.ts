// No raw crash: a closed pipe ends the output quietly, a state directory that cannot be used is
// named with what to do, and the example config's values are the defaults.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { localServer } from '../helpers/client-fixtures.js';
import { CLI, TEST_KEY, emulator, runCli, tempDir, writeTree } from '../helpers/sync.js';

/** Runs `files-sync ARGS | head -N` in bash; the CLI's exit code comes from PIPESTATUS. */
function piped(args: string[], lines: number, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string; stdout: string }> {
  const quoted = args.map((a) => `'${a}'`).join(' ');
  const script = `"${process.execPath}" "${CLI}" ${quoted} 2>"$ERR" | head -${lines}; echo "\${PIPESTATUS[0]}" >"$CODE"`;
  const dir = tempDir('fs-pipe-');
  const files = { ERR: path.join(dir, 'err'), CODE: path.join(dir, 'code') };
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { PATH: process.env.PATH, HOME: dir, ...env, ...files } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      resolve({
        code: Number(fs.readFileSync(files.CODE, 'utf8')),
        stderr: fs.readFileSync(files.ERR, 'utf8'),
        stdout,
      });
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
}

describe('no raw crash', () => {
  let emu: Emulator;
  let dir: string;
  let root: string;
  let stateDir: string;
  beforeAll(async () => {
    emu = await emulator();
    dir = tempDir('fs-robust-');
    root = path.join(dir, 'root');
    stateDir = path.join(dir, 'state');
    // Far more output than a pipe buffers (64 KiB), so the writer meets the closed pipe.
    const files: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) files[`dir-${i % 10}/file-with-a-longish-name-${i}.txt`] = `content ${i}`;
    writeTree(root, files);
    const ledger = Ledger.open(path.join(stateDir, 'ledger.db'));
    let n = 0;
    for (const rel of Object.keys(files)) {
      const id = `file_${String(n++).padStart(24, '0')}`;
      const meta = {
        id,
        type: 'file' as const,
        filename: rel,
        mime_type: 'text/plain',
        size_bytes: 10,
        created_at: new Date().toISOString(),
        downloadable: false,
      };
      ledger.finishUpload(
        null,
        { path: rel, sha256: 'x'.repeat(64), size: 10, mtimeMs: 1, ino: 1, mimeType: 'text/plain', remoteName: rel },
        meta,
        0,
        Date.now(),
      );
    }
    ledger.close();
  });
  afterAll(async () => {
    await emu.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('files-sync ls | head -1 ends quietly with exit 0', async () => {
    const r = await piped(['ls', '--root', root, '--state-dir', stateDir], 1, {});
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('files-sync status | head -1 ends quietly with exit 0', async () => {
    const r = await piped(['status', '--root', root, '--state-dir', stateDir], 1, {});
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('files-sync sync --dry-run | head -2 ends quietly', async () => {
    const r = await piped(['sync', '--dry-run', '--root', root, '--state-dir', path.join(dir, 'fresh')], 2, {
      ANTHROPIC_API_KEY: TEST_KEY,
      ANTHROPIC_BASE_URL: emu.url,
    });
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(r.code).toBe(0);
  });

  it('a state directory that cannot be created is named, with what to do, and no stack', async () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'not a folder');
    const r = await runCli(['sync', '--root', root, '--state-dir', path.join(blocker, 'state')], {
      ANTHROPIC_API_KEY: TEST_KEY,
      ANTHROPIC_BASE_URL: emu.url,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot use the state directory .*a-file\/state .*--state-dir/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a state directory under /proc fails at once with a clear message', async () => {
    const r = await runCli(['sync', '--root', root, '--state-dir', '/proc/files-sync-x/state'], {
      ANTHROPIC_API_KEY: TEST_KEY,
      ANTHROPIC_BASE_URL: emu.url,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/kernel file system/);
  });

  it("a listing that is not the Files API's (a proxy answering HTML) is exit 5 with what to check, not exit 1", async () => {
    const proxy = await localServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a captive portal</html>');
    });
    const r = await runCli(['sync', '--root', root, '--state-dir', path.join(dir, 'proxied')], {
      ANTHROPIC_API_KEY: TEST_KEY,
      ANTHROPIC_BASE_URL: proxy.url,
    });
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/malformed list answer from the Files API.*check api\.baseUrl/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a base URL with a path too many, or a web server that is not the API, is exit 5 with what to check, not exit 1', async () => {
    const web = await localServer((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE HTML><title>Not Found</title>');
    });
    for (const [i, base] of [`${emu.url}/v1`, web.url].entries()) {
      const r = await runCli(['sync', '--root', root, '--state-dir', path.join(dir, `not-api-${i}`)], {
        ANTHROPIC_API_KEY: TEST_KEY,
        ANTHROPIC_BASE_URL: base,
      });
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(/list failed: .*no Files API answers at this base URL; check api\.baseUrl or ANTHROPIC_BASE_URL/);
    }
  });

  it('a key with a line break in it is refused before the state directory is made', async () => {
    const stateDir = path.join(dir, 'never-made');
    const r = await runCli(['sync', '--root', root, '--state-dir', stateDir], {
      ANTHROPIC_API_KEY: 'sk-ant-part\nother-part',
      ANTHROPIC_BASE_URL: emu.url,
    });
    expect(r.code).toBe(2);
    expect(fs.existsSync(stateDir)).toBe(false);
  });

  it('a refused key is said once, not in a log line and again in the last line', async () => {
    const r = await runCli(['sync', '--root', root, '--state-dir', path.join(dir, 'refused')], {
      ANTHROPIC_API_KEY: 'sk-ant-not-the-key',
      ANTHROPIC_BASE_URL: emu.url,
    });
    expect(r.code).toBe(4);
    expect(r.stderr.match(/API key was refused/g)).toHaveLength(1);
  });

  it('sync --json prints one document even when the run ends with an error (a review: scripts read an empty stdout)', async () => {
    const r = await runCli(['sync', '--json', '--root', root, '--state-dir', path.join(dir, 'refused-json')], {
      ANTHROPIC_API_KEY: 'sk-ant-not-the-key',
      ANTHROPIC_BASE_URL: emu.url,
    });
    expect(r.code).toBe(4);
    const doc = JSON.parse(r.stdout) as { exitCode: number; error: string };
    expect(doc.exitCode).toBe(4);
    expect(doc.error).toMatch(/API key was refused/);
    expect(r.stdout).not.toContain('sk-ant-not-the-key');
  });

  it("the example config's values are the defaults", () => {
    const example = path.resolve(import.meta.dirname, '..', '..', 'sync.config.example.json');
    const raw = JSON.parse(fs.readFileSync(example, 'utf8')) as Record<string, unknown>;
    const file = path.join(dir, 'copy.json');
    fs.writeFileSync(file, JSON.stringify(raw));
    const bare = path.join(dir, 'bare.json');
    fs.writeFileSync(bare, JSON.stringify({ root: raw.root }));
    const env = { XDG_STATE_HOME: path.join(dir, 'xdg') };
    const { source: _a, ...fromExample } = loadConfig({ configPath: file }, env);
    const { source: _b, ...defaults } = loadConfig({ configPath: bare }, env);
    expect(fromExample).toEqual(defaults);
  });
});
