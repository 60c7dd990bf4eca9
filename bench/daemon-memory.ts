// The daemon's start-up peak and idle RSS on an existing tree, alone (issue 13's watcher work):
// `node dist-bench/daemon-memory.js --root DIR --work DIR [--idle-seconds N] [--watcher on|off]`.
// The first run syncs the tree once into WORK (state dir plus an on-disk emulator data dir, so later
// runs reuse the synced state and skip the initial sync); every run then starts the emulator on
// that data, runs `files-sync daemon` until it is ready, idles it and prints the figures as JSON.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { daemonMemory } from './lib/daemonrun.js';
import { CLI, EMULATOR_KEY, pinned } from './lib/env.js';
import { writeConfig } from './lib/filesync.js';
import { exited, expectOk, runNode, waitForLine } from './lib/proc.js';
import { scriptArgs } from './lib/args.js';

const USAGE = `usage: node dist-bench/daemon-memory.js --root DIR --work DIR [--idle-seconds 60] [--watcher on|off]
  the daemon's start-up peak and idle RSS on an existing tree, as JSON
`;
const values = scriptArgs(USAGE, {
  root: { type: 'string' },
  work: { type: 'string' },
  'idle-seconds': { type: 'string', default: '60' },
  watcher: { type: 'string', default: 'on' },
});
if (!values.root || !values.work) {
  process.stderr.write(`--root and --work are required\n\n${USAGE}`);
  process.exit(2);
}
const root = resolve(values.root);
const work = resolve(values.work);
const stateDir = join(work, 'state');
const dataDir = join(work, 'emulator');
const synced = join(work, 'synced');
mkdirSync(work, { recursive: true });
const config = writeConfig(join(work, 'config.json'), { concurrency: 8, requestsPerMinute: 100_000 });

const [cmd, argv] = pinned(0, process.execPath, [CLI, 'emulator', '--port', '0', '--data-dir', dataDir]);
const emu = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const url = (await waitForLine(emu, /files-sync emulator listening on (\S+)/, 120_000))[1]!.replace(/\/$/, '');
  emu.stdout.resume();
  const env = { ANTHROPIC_API_KEY: EMULATOR_KEY, ANTHROPIC_BASE_URL: url };
  if (!existsSync(synced)) {
    const args = ['sync', '--config', config, '--root', root, '--state-dir', stateDir, '--json'];
    const m = expectOk(await runNode(CLI, args, { env, timeoutMs: 60 * 60_000 }), 'files-sync sync (initial)');
    writeFileSync(synced, m.stdout);
    console.error(`initial sync: ${Math.round(m.wallMs / 1000)} s`);
  }
  if (values.watcher === 'off') process.env.FILES_SYNC_TEST_WATCHER = 'off';
  const d = await daemonMemory({
    url,
    root,
    stateDir,
    config,
    idleMs: Number(values['idle-seconds']) * 1000,
    idleStepMs: 15_000,
    readyTimeoutMs: 30 * 60_000,
    watching: values.watcher !== 'off',
  });
  const mb = (kb: number) => Math.round(kb / 1024);
  console.log(
    JSON.stringify({
      root,
      watcher: values.watcher,
      readyS: Math.round(d.readyMs / 100) / 10,
      startPeakMb: mb(d.startPeakKb),
      idleRssMb: d.idleRssKb.map(mb),
      endPeakMb: mb(d.endPeakKb),
      warnings: d.warnings,
    }),
  );
} finally {
  emu.kill('SIGTERM');
  await exited(emu);
}
