// Checks of the unit files in systemd/: `systemd-analyze verify`, the `systemd-analyze security`
// exposure score (offline, no systemd PID 1 needed), and static facts the units must keep.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const UNIT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'systemd');
const DAEMON = join(UNIT_DIR, 'files-sync.service');
const ONESHOT = join(UNIT_DIR, 'files-sync-sync.service');
const TIMER = join(UNIT_DIR, 'files-sync-sync.timer');
const MAX_EXPOSURE = 1.3;
const TIMEOUT_MS = 20_000;

const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
const base = (path: string): string => path.slice(UNIT_DIR.length + 1);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; resolves with its exit code instead of rejecting on non-zero. */
function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      {
        timeout: TIMEOUT_MS,
        maxBuffer: 4 * 1024 * 1024,
        env: { ...process.env, LC_ALL: 'C', SYSTEMD_PAGER: 'cat', SYSTEMD_COLORS: '0', SYSTEMD_LOG_COLOR: '0' },
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          // Spawn failure or timeout (code is a string or null): a real error.
          reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
          return;
        }
        resolvePromise({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** systemd major version, or 0 when it cannot be read. */
async function systemdVersion(): Promise<number> {
  if (!ANALYZE) return 0;
  const r = await run(ANALYZE, ['--version']);
  const m = /^systemd (\d+)/m.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}
const SYSTEMD_VERSION = await systemdVersion();
// `systemd-analyze security --offline=` exists since systemd 250.
const NO_OFFLINE_SECURITY = SYSTEMD_VERSION < 250;
const offlineSkipReason = NO_OFFLINE_SECURITY
  ? ` (skipped: systemd ${SYSTEMD_VERSION || 'unknown'} has no security --offline, needs >= 250)`
  : '';

/** Directive → values, per section (comments, blank lines skipped; no line continuations used). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || !current) throw new Error(`unparseable unit line: ${raw}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    current.set(key, [...(current.get(key) ?? []), value]);
  }
  return sections;
}

function unit(path: string) {
  const text = readFileSync(path, 'utf8');
  const sections = parseUnit(text);
  const get = (section: string, key: string): string[] => sections.get(section)?.get(key) ?? [];
  return { text, sections, get };
}

/** The executable of an Exec*= line (prefix characters such as "-", "@", "+", "!" removed). */
function executableOf(execLine: string): string {
  return execLine.replace(/^[-@:+!]+/, '').split(/\s+/)[0] ?? '';
}

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'files-sync-units-'));
  tempDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

async function exposure(path: string): Promise<number> {
  if (!ANALYZE) throw new Error('unreachable');
  const r = await run(ANALYZE, ['security', '--offline=true', '--no-pager', path]);
  expect(r.code, r.stderr).toBe(0);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?) \S+/.exec(r.stdout);
  expect(m, `no overall exposure line in:\n${r.stdout}\n${r.stderr}`).not.toBeNull();
  return Number(m?.[1]);
}

describe.skipIf(!ANALYZE)(`systemd-analyze${ANALYZE ? '' : ' (skipped: systemd-analyze not installed on this host)'}`, () => {
  describe('verify', () => {
    for (const path of [DAEMON, ONESHOT, TIMER]) {
      const name = base(path);

      it(`${name} as shipped: no complaint except a missing files-sync binary`, async () => {
        const r = await run(ANALYZE!, ['verify', '--man=no', '--generators=no', path]);
        const { get } = unit(path);
        // The only tolerated message: the program is not installed on the test host.
        const expectedMissing = new Set(
          get('Service', 'ExecStart')
            .map(executableOf)
            .filter((exe) => exe.endsWith('/files-sync') && !existsSync(exe)),
        );
        const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
        const missing = lines.filter((l) => {
          const m = /^\S+: Command (\S+) is not executable: No such file or directory$/.exec(l);
          return m !== null && expectedMissing.has(m[1] ?? '');
        });
        const others = lines.filter((l) => !missing.includes(l));
        expect(others, r.stderr).toEqual([]);
        expect(r.code, r.stderr).toBe(missing.length > 0 ? 1 : 0);
      });
    }

    it('both services verify cleanly (exit 0) when the binary exists', async () => {
      // Same units, ExecStart pointed at a stub executable, so verify's exit status is meaningful.
      const dir = tempDir();
      const stub = join(dir, 'files-sync');
      writeFileSync(stub, '#!/bin/sh\nexit 0\n');
      chmodSync(stub, 0o755);
      for (const path of [DAEMON, ONESHOT, TIMER]) {
        const text = readFileSync(path, 'utf8').replace(/^ExecStart=\/usr\/bin\/files-sync /gm, `ExecStart=${stub} `);
        writeFileSync(join(dir, base(path)), text);
      }
      const r = await run(ANALYZE!, [
        'verify',
        '--man=no',
        '--generators=no',
        join(dir, 'files-sync.service'),
        join(dir, 'files-sync-sync.service'),
        join(dir, 'files-sync-sync.timer'),
      ]);
      expect(r.stderr.trim()).toBe('');
      expect(r.code).toBe(0);
    });
  });

  describe('security', () => {
    for (const path of [DAEMON, ONESHOT]) {
      it.skipIf(NO_OFFLINE_SECURITY)(`${base(path)}: overall exposure <= ${MAX_EXPOSURE}${offlineSkipReason}`, async () => {
        expect(await exposure(path)).toBeLessThanOrEqual(MAX_EXPOSURE);
      });
    }

    it.skipIf(NO_OFFLINE_SECURITY)(
      `documented drop-in for a folder under /home keeps exposure <= ${MAX_EXPOSURE} and verifies${offlineSkipReason}`,
      async () => {
        const dir = tempDir();
        const copy = join(dir, 'files-sync.service');
        writeFileSync(copy, readFileSync(DAEMON, 'utf8'));
        mkdirSync(join(dir, 'files-sync.service.d'));
        // The recipe from the unit's comments and the README.
        writeFileSync(
          join(dir, 'files-sync.service.d', 'home.conf'),
          '[Service]\nProtectHome=tmpfs\nReadOnlyPaths=\nBindReadOnlyPaths=-/home/alice/Documents/shared\n',
        );
        expect(await exposure(copy)).toBeLessThanOrEqual(MAX_EXPOSURE);
        const r = await run(ANALYZE!, ['verify', '--man=no', '--generators=no', copy]);
        const others = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/: Command \/usr\/bin\/files-sync is not executable/.test(l));
        expect(others).toEqual([]);
      },
    );
  });
});

describe('unit files: static facts', () => {
  const daemon = unit(DAEMON);
  const oneshot = unit(ONESHOT);
  const timer = unit(TIMER);

  it('never set MemoryDenyWriteExecute= (V8 JIT needs W+X memory)', () => {
    for (const u of [daemon, oneshot]) {
      expect(u.get('Service', 'MemoryDenyWriteExecute')).toEqual([]);
    }
  });

  it('daemon: restart policy, stop bound, reload, logging', () => {
    expect(daemon.get('Service', 'ExecStart')).toEqual(['/usr/bin/files-sync daemon --config /etc/files-sync/config.json']);
    expect(daemon.get('Service', 'Type')).toEqual(['exec']);
    expect(daemon.get('Service', 'Restart')).toEqual(['on-failure']);
    const prevent = daemon.get('Service', 'RestartPreventExitStatus').flatMap((v) => v.split(/\s+/));
    expect(prevent).toContain('2');
    expect(prevent).toContain('4');
    expect(prevent).toContain('6'); // ledger unusable: a restart would fail the same way
    expect(daemon.get('Service', 'RestartSec')).toHaveLength(1);
    expect(daemon.get('Unit', 'StartLimitIntervalSec')).toHaveLength(1);
    expect(daemon.get('Unit', 'StartLimitBurst')).toHaveLength(1);
    expect(daemon.get('Service', 'TimeoutStopSec')).toEqual(['30s']);
    expect(daemon.get('Service', 'ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(daemon.get('Install', 'WantedBy')).toEqual(['multi-user.target']);
  });

  it('oneshot: runs `sync`, does not conflict with the daemon, exit 1 stays a failure', () => {
    expect(oneshot.get('Service', 'Type')).toEqual(['oneshot']);
    expect(oneshot.get('Service', 'ExecStart')).toEqual(['/usr/bin/files-sync sync --config /etc/files-sync/config.json']);
    expect(oneshot.get('Unit', 'Conflicts')).toEqual([]);
    const success = oneshot.get('Service', 'SuccessExitStatus').flatMap((v) => v.split(/\s+/));
    expect(success).not.toContain('1');
    expect(oneshot.get('Service', 'Restart')).toEqual([]);
  });

  it('timer: every 15 minutes, randomized, persistent', () => {
    expect(timer.get('Timer', 'OnCalendar')).toEqual(['*:0/15']);
    expect(timer.get('Timer', 'RandomizedDelaySec')).toHaveLength(1);
    expect(timer.get('Timer', 'Persistent')).toEqual(['true']);
    expect(timer.get('Timer', 'Unit')).toEqual(['files-sync-sync.service']);
    expect(timer.get('Install', 'WantedBy')).toEqual(['timers.target']);
  });

  it('API key only through LoadCredential=, never in the environment or on the command line', () => {
    for (const u of [daemon, oneshot]) {
      expect(u.get('Service', 'LoadCredential')).toEqual(['anthropic-api-key:/etc/files-sync/anthropic-api-key']);
      for (const key of ['Environment', 'EnvironmentFile', 'PassEnvironment', 'SetCredential']) {
        for (const value of u.get('Service', key)) {
          expect(value).not.toMatch(/key|anthropic|secret|token|sk-ant/i);
        }
      }
      for (const exec of [...u.get('Service', 'ExecStart'), ...u.get('Service', 'ExecReload')]) {
        expect(exec).not.toMatch(/api[-_]?key|sk-ant|CREDENTIALS_DIRECTORY/i);
      }
      expect(u.text).not.toMatch(/sk-ant-/);
    }
  });

  it('no core dumps: a core would hold the API key', () => {
    for (const u of [daemon, oneshot]) expect(u.get('Service', 'LimitCORE')).toEqual(['0']);
  });

  it('identity, state and logging are shared by both services', () => {
    for (const u of [daemon, oneshot]) {
      expect(u.get('Service', 'User')).toEqual(['files-sync']);
      expect(u.get('Service', 'Group')).toEqual(['files-sync']);
      expect(u.get('Service', 'DynamicUser')).toEqual([]);
      expect(u.get('Service', 'StateDirectory')).toEqual(['files-sync']);
      expect(u.get('Service', 'StateDirectoryMode')).toEqual(['0700']);
      expect(u.get('Service', 'SyslogIdentifier')).toEqual(['files-sync']);
      expect(u.get('Service', 'UMask')).toEqual(['0077']);
    }
  });

  it('sandbox: network families, syscall filter that Node survives, no capabilities', () => {
    for (const u of [daemon, oneshot]) {
      expect(u.get('Service', 'RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6']);
      const filter = u.get('Service', 'SystemCallFilter');
      expect(filter[0]?.split(/\s+/)).toEqual(expect.arrayContaining(['@system-service', 'pkey_alloc', 'pkey_free', 'pkey_mprotect']));
      expect(filter).toContain('~@privileged @resources');
      expect(u.get('Service', 'SystemCallErrorNumber')).toEqual(['EPERM']);
      expect(u.get('Service', 'CapabilityBoundingSet')).toEqual(['']);
      expect(u.get('Service', 'AmbientCapabilities')).toEqual(['']);
      expect(u.get('Service', 'NoNewPrivileges')).toEqual(['yes']);
      expect(u.get('Service', 'ProtectSystem')).toEqual(['strict']);
      expect(u.get('Service', 'ReadWritePaths')).toEqual([]);
      expect(u.get('Service', 'ReadOnlyPaths')).toEqual(['-/srv/files-sync']);
      // inotify must stay usable for the watcher: nothing may filter it out.
      expect(u.text).not.toMatch(/^SystemCallFilter=~.*(@file-system|inotify)/m);
    }
  });

  it('both services carry the same sandbox (no drift between daemon and oneshot)', () => {
    const sandboxKeys = new Set([
      'User',
      'Group',
      'StateDirectory',
      'StateDirectoryMode',
      'LoadCredential',
      'UMask',
      'ReadOnlyPaths',
      'LimitCORE',
      'NoNewPrivileges',
      'CapabilityBoundingSet',
      'AmbientCapabilities',
      'ProtectSystem',
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'DevicePolicy',
      'PrivateMounts',
      'PrivateIPC',
      'RemoveIPC',
      'KeyringMode',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectControlGroups',
      'ProtectClock',
      'ProtectHostname',
      'ProtectProc',
      'ProcSubset',
      'RestrictAddressFamilies',
      'RestrictNamespaces',
      'RestrictRealtime',
      'RestrictSUIDSGID',
      'LockPersonality',
      'SystemCallArchitectures',
      'SystemCallFilter',
      'SystemCallErrorNumber',
      'PrivateUsers',
      'MemoryDenyWriteExecute',
      'PrivateNetwork',
      'IPAddressDeny',
    ]);
    const pick = (u: ReturnType<typeof unit>) =>
      Object.fromEntries([...(u.sections.get('Service') ?? new Map<string, string[]>())].filter(([k]) => sandboxKeys.has(k)));
    expect(pick(oneshot)).toEqual(pick(daemon));
    expect(Object.keys(pick(daemon)).length).toBeGreaterThan(30);
  });
});
