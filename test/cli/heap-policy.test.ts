// Which commands hold V8's heap flat from their start (src/v8-flags.ts; what holding does to a
// process's heap is tested in test/v8-flags.test.ts): the long-lived ones and `adopt` do, a short
// command leaves V8 its own sizing. Each case loads the CLI afresh, so that the process-wide
// "held" starts false.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterEach, expect, it, vi } from 'vitest';

async function fresh() {
  vi.resetModules();
  const flags = await import('../../src/v8-flags.js');
  const { main } = await import('../../src/cli.js');
  const { COMMANDS } = await import('../../src/commands/index.js');
  expect(flags.heapHeldFlat()).toBe(false);
  return { flags, main, COMMANDS };
}

/** Runs the CLI with its output swallowed; returns the exit code. */
async function quietly(run: () => Promise<number>): Promise<number> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return await run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

it('the emulator holds the heap flat: a server that runs as long as its user needs it', async () => {
  const { flags, main } = await fresh();
  expect(await quietly(() => main(['emulator', '--help'], {}))).toBe(0);
  expect(flags.heapHeldFlat()).toBe(true);
});

it('the daemon holds it as its command loads, before it reconciles', async () => {
  const { flags, COMMANDS } = await fresh();
  await COMMANDS.find((c) => c.name === 'daemon')!.load();
  expect(flags.heapHeldFlat()).toBe(true);
});

it('adopt holds it from its start, before it reads its config', async () => {
  const { flags, main } = await fresh();
  const missing = join(tmpdir(), 'files-sync-no-such-dir', 'config.json');
  expect(await quietly(() => main(['adopt', '--config', missing], {}))).toBe(2);
  expect(flags.heapHeldFlat()).toBe(true);
});

it('a short command leaves V8 its own sizing', async () => {
  const { flags, main } = await fresh();
  expect(await quietly(() => main(['--version'], {}))).toBe(0);
  expect(await quietly(() => main(['status', '--config', join(tmpdir(), 'files-sync-no-such-dir', 'c.json')], {}))).toBe(2);
  expect(flags.heapHeldFlat()).toBe(false);
});
