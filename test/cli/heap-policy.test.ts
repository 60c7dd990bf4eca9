// Which commands hold V8's heap flat from their start (src/v8-flags.ts; what holding does to a
// process's heap is tested in test/v8-flags.test.ts): the long-lived ones, `adopt`, and a sync over
// a large ledger do; a short command leaves V8 its own sizing. Each case loads the CLI afresh, so
// that the process-wide "held" starts false.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { LONG_PASS_FILES } from '../../src/v8-flags.js';
import { fillLedger } from '../helpers/ledger.js';
import { TEST_KEY } from '../helpers/sync.js';

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

describe('sync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'files-sync-heap-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A dry run over a state directory whose ledger tracks `rows` files; the root is missing, so it stops (exit 3) before any request. */
  async function dryRunOver(rows: number): Promise<boolean> {
    const stateDir = join(dir, `state-${rows}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    fillLedger(join(stateDir, 'ledger.db'), rows);
    const config = join(dir, 'config.json');
    writeFileSync(config, '{}\n');
    const { flags, main } = await fresh();
    const env = { ANTHROPIC_API_KEY: TEST_KEY, ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' };
    const args = ['sync', '--dry-run', '--config', config, '--root', join(dir, 'no-such-root'), '--state-dir', stateDir];
    expect(await quietly(() => main(args, env))).toBe(3);
    return flags.heapHeldFlat();
  }

  it(`holds it from the start over a ledger of ${LONG_PASS_FILES.toLocaleString('en')} files, not over a small one`, async () => {
    expect(await dryRunOver(LONG_PASS_FILES)).toBe(true);
    expect(await dryRunOver(100)).toBe(false);
  }, 60_000);
});
