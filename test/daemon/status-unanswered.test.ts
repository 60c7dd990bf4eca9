// `status` beside a daemon that does not answer its control socket (stopped, or its event loop
// held): before, the read of the answer never ended once the wait gave up, node found nothing
// left to run and exited 0 with nothing printed, which monitoring reads as healthy.
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { daemonSetup, startDaemon, tearDown } from '../helpers/daemon.js';
import { emulator, runCli, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
let stopped: number | undefined;
afterEach(async () => {
  if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
  await tearDown(emu, setup);
  emu = setup = stopped = undefined;
});

describe('status beside a daemon that does not answer', () => {
  it('prints the folder and says the daemon did not answer', async () => {
    emu = await emulator();
    setup = daemonSetup(emu);
    writeTree(setup.root, { 'a.txt': 'a' });
    const daemon = await startDaemon(setup);
    process.kill(daemon.pid, 'SIGSTOP');
    stopped = daemon.pid;
    const status = await runCli(['status', '--config', setup.configFile], setup.env);
    expect(status.stdout).toMatch(/^state: /m);
    expect(status.stdout).toMatch(
      new RegExp(`^daemon: running \\(pid ${daemon.pid}\\), but its control socket did not answer: .*5 s`, 'm'),
    );
    const json = await runCli(['status', '--json', '--config', setup.configFile], setup.env);
    expect((JSON.parse(json.stdout) as { daemon: { live: { error: string } } }).daemon.live.error).toMatch(/did not answer/);
  }, 60_000);
});
