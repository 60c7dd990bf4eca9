// The daemon's ApiGate wraps the client for health and the stop's drain: the contract and the GA
// look-up pass through (or the daemon would never look ids up); the API's clock deliberately does
// not (health.ts: rule 3 in the daemon leaves its lost answers' copies unclaimed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ApiGate, ApiHealth } from '../../src/daemon/health.js';
import type { Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { TEST_KEY, emulator, syncSetup, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await emulator();
});
afterAll(async () => emu.close());

const setups: SyncSetup[] = [];
afterAll(() => setups.forEach((s) => s.cleanup()));

function gateFor(contract: 'ga' | 'beta') {
  const setup = syncSetup(emu, {}, contract);
  setups.push(setup);
  const client = clientFor(loadConfig({ configPath: setup.configFile }, setup.env), TEST_KEY, silentLogger());
  const signal = new AbortController().signal;
  const noop = () => undefined;
  const health = new ApiHealth({ logger: silentLogger(), probe: async () => undefined, onDown: noop, onUp: noop, onFatal: noop, signal });
  return { client, gate: new ApiGate(client, health, signal) };
}

describe('ApiGate', () => {
  it('passes through the contract and the GA look-up, and not the API clock', async () => {
    const { client, gate } = gateFor('ga');
    try {
      expect(gate.contract).toBe('ga');
      const { id } = emu.seed({ filename: 'gate.txt', content_base64: Buffer.from('gate').toString('base64'), owner: 'self' });
      expect((await gate.lookup!([id])).map((f) => f.id)).toEqual([id]);
      expect(typeof client.clockOffsetMs()).toBe('number'); // measured by the answer
      expect('clockOffsetMs' in gate).toBe(false);
      expect(Math.abs(gate.serverNow!() - Date.now())).toBeLessThan(5_000);
    } finally {
      await client.close();
    }
  });

  it('tells the beta contract, under which no look-up is tried (remote-view.ts)', async () => {
    const { client, gate } = gateFor('beta');
    try {
      expect(gate.contract).toBe('beta');
    } finally {
      await client.close();
    }
  });
});
