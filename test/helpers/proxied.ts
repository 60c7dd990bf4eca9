// A sync setup that speaks to the emulator through a tampering proxy (proxy.ts): for tests of an
// API that answers wrongly or refuses. Each test's emulator, proxy and folder go after the test.
import { afterEach } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { tamperingProxy, type Proxy } from './proxy.js';
import { emulator, syncSetup, type SyncSetup, type TestContract } from './sync.js';

export interface Proxied {
  emu: Emulator;
  proxy: Proxy;
  setup: SyncSetup;
}

/** Registers the clean-up and returns `start`: an emulator, a proxy in front of it and a setup through the proxy. */
export function proxiedSetups(): (contract?: TestContract) => Promise<Proxied> {
  let open: Partial<Proxied> = {};
  afterEach(async () => {
    const { emu, proxy, setup } = open;
    open = {};
    setup?.cleanup();
    await proxy?.close();
    await emu?.close();
  });
  return async (contract = 'ga') => {
    const emu = await emulator();
    open.emu = emu;
    const proxy = await tamperingProxy(emu.url);
    open.proxy = proxy;
    const setup = syncSetup(emu, { api: { baseUrl: proxy.url } }, contract);
    open.setup = setup;
    return { emu, proxy, setup };
  };
}
