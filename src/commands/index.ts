// The table of commands: adding a command is one entry here (its module holds the body).
import type { OptionName } from './options.js';
import type { Command } from './shared.js';
import { holdHeapFlat } from '../v8-flags.js';

/** One command of the command line. */
export interface CommandSpec {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** Positional arguments in commander syntax (`<path>`). */
  args?: readonly string[];
  options: readonly OptionName[];
  /** Text shown after the options in the command's own --help. */
  details?: string;
  /** Loaded when the command runs, so a command pays only for its own modules. */
  load: () => Promise<Command>;
}

const where: OptionName[] = ['config', 'root', 'state-dir'];

/** Every command but `emulator`, which parses its own arguments (see cli.ts). */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'init',
    summary: 'write a config file for a folder, where every later command finds it',
    options: ['root', 'init-config', 'state-dir', 'force'],
    details: 'Default file: $XDG_CONFIG_HOME/files-sync/config.json (~/.config when unset), mode 0600.',
    load: async () => (await import('./init.js')).init,
  },
  {
    name: 'sync',
    summary: 'one reconciliation: upload new and changed files, delete remote copies of removed ones',
    options: [...where, 'dry-run', 'allow-mass-delete', 'allow-duplicates', 'json', 'log-format', 'log-level'],
    details: 'When a daemon runs on the same state directory, it asks the daemon to reconcile and reports its result.',
    load: async () => (await import('./sync.js')).sync,
  },
  {
    name: 'daemon',
    summary: 'the service: watch the folder, reconcile once the watch is in place, then sync each change',
    options: [...where, 'log-format', 'log-level'],
    load: async () => {
      // A process that lives for months: its heap stays near its live size (v8-flags.ts).
      holdHeapFlat();
      const { runDaemon } = await import('../daemon/run.js');
      return runDaemon;
    },
  },
  {
    name: 'adopt',
    summary: "take over the workspace's copies of this folder's files that the ledger does not know",
    options: [...where, 'dry-run', 'log-format', 'log-level'],
    details:
      'A file is adopted when its remote name is the one files-sync gives the path, its size is the local\n' +
      "file's, and it is the only such file; anything ambiguous is left alone. Run it after a lost state directory.",
    load: async () => (await import('./adopt.js')).adopt,
  },
  {
    name: 'forget-copies',
    summary: 'delete unclaimed copies that status lists (only on your word, only those ids)',
    args: ['<ids...>'],
    options: [...where, 'log-format', 'log-level'],
    details:
      'An unclaimed copy is a file that a lost upload answer may have left, but whose evidence was ambiguous\n' +
      "(it could be another application's): files-sync never deletes one by itself. Any id that is not a\n" +
      'recorded unclaimed copy refuses the whole command.',
    load: async () => {
      const { forgetCopies } = await import('./forget-copies.js');
      const { clientFor, ledgerPath, loggerFor } = await import('./shared.js');
      return (context) => forgetCopies(context, { clientFor, ledgerPath, loggerFor });
    },
  },
  {
    name: 'ledger',
    summary: "check the ledger's integrity, or restore it from a backup",
    args: ['<verb>', '[file]'],
    options: where,
    details:
      "ledger check runs SQLite's integrity check (exit 6 when damaged). ledger restore [FILE] puts back a\n" +
      'backup: the newest of STATE/backups (made after each sync that ran to its end) unless FILE names one; it is\n' +
      'refused while a daemon or a sync runs.',
    load: async () => (await import('./ledger.js')).runLedgerCommand,
  },
  {
    name: 'status',
    summary: "the folder's state, the last runs, failures, held deletes and the daemon",
    options: [...where, 'json'],
    load: async () => (await import('./status.js')).status,
  },
  {
    name: 'ls',
    summary: 'every synced path with its file_id',
    options: [...where, 'json'],
    load: async () => (await import('./ls.js')).ls,
  },
  {
    name: 'resolve',
    summary: 'the file_id of one path; exit 1 if it is not synced',
    args: ['<path>'],
    options: where,
    details: 'PATH is relative to the root, to the current folder, or absolute inside the root.',
    load: async () => (await import('./resolve.js')).resolve,
  },
];
