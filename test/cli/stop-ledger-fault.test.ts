// A ledger fault met after Ctrl-C ends `files-sync sync` with exit 6, not 130 (src/commands/sync.ts):
// here a background write ahead of intents (src/sync/intents.ts) whose fsync fails late, once the
// user has pressed Ctrl-C. The command runs in this process against the emulator; the fault is
// injected into that write alone (told by its call stack).
import { afterEach, expect, it, vi } from 'vitest';
import { sync } from '../../src/commands/sync.js';
import type { Emulator } from '../../src/emulator/index.js';
import { Ledger, LedgerError } from '../../src/ledger/ledger.js';
import { Execution } from '../../src/sync/execute.js';
import { emulator, syncSetup, writeTree, type SyncSetup } from '../helpers/sync.js';

let emu: Emulator | undefined;
let setup: SyncSetup | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  setup?.cleanup();
  await emu?.close();
});

it('files-sync sync: a background write ahead whose fsync fails after a Ctrl-C exits 6 (a ledger fault), not 130', async () => {
  emu = await emulator();
  setup = syncSetup(emu, { concurrency: 2, requestsPerMinute: 120 });
  writeTree(
    setup.root,
    Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`d${i % 4}/f${String(i).padStart(3, '0')}.txt`, `content ${i}`])),
  );
  emu.setFaults({ latencyMs: 100 });
  const before = process.listeners('SIGINT');
  const stderr: string[] = [];
  const realWrite = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr.push(String(chunk));
    return (realWrite as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
  });
  let injected = 0;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the ledger as `this`
  const real = Ledger.prototype.transactionSynced;
  vi.spyOn(Ledger.prototype, 'transactionSynced').mockImplementation(function (this: Ledger, fn) {
    const stack = new Error().stack ?? '';
    if (injected === 0 && stack.includes('writeAhead') && !stack.includes('writeBatch')) {
      injected++;
      // This background commit's fsync fails 150 ms later; the user presses Ctrl-C at once.
      const own = this.syncCommits.bind(this);
      this.syncCommits = () => {
        this.syncCommits = own;
        return new Promise((_resolve, reject) => setTimeout(() => reject(new LedgerError('the ledger: EIO at fsync', 'io')), 150));
      };
      const onSigint = process.listeners('SIGINT').find((l) => !before.includes(l))!;
      setImmediate(() => (onSigint as () => void)());
    }
    return real.call(this, fn);
  });
  const ended: unknown[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the execution as `this`
  const realEnd = Execution.prototype.end;
  vi.spyOn(Execution.prototype, 'end').mockImplementation(function (this: Execution) {
    try {
      return realEnd.call(this);
    } catch (err) {
      ended.push(err);
      throw err;
    }
  });
  const code = await sync({
    env: setup.env,
    help: false,
    overrides: { configPath: setup.configFile },
    dryRun: false,
    allowMassDelete: false,
    allowDuplicates: true,
    json: false,
    logLevel: 'error',
    positionals: [],
  }).catch((err: unknown) => err);
  expect(injected).toBe(1);
  // What the run itself ended with: the LedgerError (io), after some uploads were stored.
  expect(ended.map((e) => (e instanceof LedgerError ? `LedgerError ${e.kind} exit ${e.exitCode}` : String(e)))).toEqual([
    'LedgerError io exit 6',
  ]);
  expect(emu.state().files.filter((f) => f.owner === 'self').length).toBeGreaterThan(0);
  expect(code).toBeInstanceOf(LedgerError); // thrown to cli.ts, which exits with its exitCode 6
  expect(stderr.join('')).not.toMatch(/interrupted while scanning/);
});
