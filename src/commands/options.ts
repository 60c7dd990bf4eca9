// Every command-line option, declared once: its flag, its help line and (for choices) its values.
// A command lists the names it takes (see commands/index.ts).

/** One option of the command line. */
export interface OptionSpec {
  /** Commander flags: `--root <dir>`, `--json`. */
  flags: string;
  description: string;
  choices?: readonly string[];
}

/** The options by name (the name is the flag without its dashes). */
export const OPTIONS = {
  config: {
    flags: '--config <file>',
    description: 'the config file (default ./sync.config.json, then $XDG_CONFIG_HOME/files-sync/config.json)',
  },
  /** `init`'s `--config`: the file it writes, which is not looked for. */
  'init-config': {
    flags: '--config <file>',
    description: 'the config file to write (default $XDG_CONFIG_HOME/files-sync/config.json, ~/.config when unset)',
  },
  root: { flags: '--root <dir>', description: 'the folder to sync (overrides "root")' },
  'state-dir': { flags: '--state-dir <dir>', description: 'where the ledger lives (overrides "stateDir")' },
  'dry-run': { flags: '--dry-run', description: 'print what would change, with sizes and totals; change nothing' },
  'allow-mass-delete': {
    flags: '--allow-mass-delete',
    description: 'let a sync delete more than deletes.maxCount / maxShare, or accept a root that moved to another disk',
  },
  'allow-duplicates': {
    flags: '--allow-duplicates',
    description: 'upload even where the workspace already holds files of the same name and size that this ledger does not know',
  },
  json: { flags: '--json', description: 'print the result as JSON (times in ISO 8601)' },
  force: { flags: '--force', description: 'replace a config file that exists' },
  'log-format': {
    flags: '--log-format <format>',
    description: 'human (default on a terminal), journal (default under systemd) or json',
    choices: ['human', 'json', 'journal'],
  },
  'log-level': {
    flags: '--log-level <level>',
    description: 'overrides "logLevel"',
    choices: ['error', 'warn', 'info', 'debug'],
  },
} as const satisfies Record<string, OptionSpec>;

/** The name of an option. */
export type OptionName = keyof typeof OPTIONS;
