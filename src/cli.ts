#!/usr/bin/env node
// The command line: parses arguments, runs one command, and turns errors into one clear line and
// an exit code a script or systemd can act on.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { commands, type CommandContext } from './commands.js';
import { ConfigError, ExitCode, SyncError, errorMessage } from './errors.js';
import { escapeText } from './escape.js';
import { redact } from './log.js';

const USAGE = `files-sync: mirror a folder into an Anthropic workspace through the Files API

Usage:
  files-sync sync     [--config FILE] [--root DIR] [--state-dir DIR] [--dry-run] [--allow-mass-delete] [--json]
  files-sync daemon   [--config FILE] [--log-format human|json|journal]
  files-sync status   [--config FILE] [--json]
  files-sync ls       [--config FILE] [--json]
  files-sync resolve  [--config FILE] PATH
  files-sync forget-copies [--config FILE] ID...   delete unclaimed copies that status lists
  files-sync ledger   [--config FILE] check | restore [FILE]
  files-sync emulator [--port N] [--host 127.0.0.1] [--data-dir DIR] [--api-key KEY]

Common options:
  --config FILE        the config file (default ./sync.config.json, then $XDG_CONFIG_HOME/files-sync/config.json)
  --root DIR           the folder to sync (overrides "root"; enough for a one-shot run without a file)
  --state-dir DIR      where the ledger lives (overrides "stateDir")
  --log-format FORMAT  human (default on a terminal), journal (default under systemd) or json
  --log-level LEVEL    error, warn, info or debug (overrides "logLevel")
  --dry-run            print what a sync would upload and delete; change nothing (may run beside a daemon)
  --allow-mass-delete  let a sync delete more than deletes.maxCount / maxShare, or accept a root that
                       moved to another disk (deletes are otherwise held)
  --json               print the report (sync), the state (status) or the map (ls) as JSON

ledger check runs SQLite's integrity check on the ledger; ledger restore puts back a backup (the
newest of STATE/backups, made after each successful sync, unless FILE names one); it is refused
while a daemon runs.

The API key comes from ANTHROPIC_API_KEY, the config's api.keyFile, or the systemd credential
anthropic-api-key; never from the command line.

Exit codes: 0 done, 1 done with per-file failures, 2 usage or config error, 3 root missing or
delete guard tripped, 4 authentication failed, 5 remote unavailable after retries, 6 ledger
unusable (damaged, read-only, deleted, I/O errors; see files-sync ledger check).`;

const OPTIONS = {
  config: { type: 'string' },
  root: { type: 'string' },
  'state-dir': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'allow-mass-delete': { type: 'boolean' },
  json: { type: 'boolean' },
  'log-format': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/** Which options each command takes. */
const ALLOWED: Record<string, readonly string[]> = {
  sync: ['config', 'root', 'state-dir', 'dry-run', 'allow-mass-delete', 'json', 'log-format', 'log-level'],
  daemon: ['config', 'root', 'state-dir', 'log-format', 'log-level'],
  status: ['config', 'root', 'state-dir', 'json'],
  ls: ['config', 'root', 'state-dir', 'json'],
  resolve: ['config', 'root', 'state-dir'],
  'forget-copies': ['config', 'root', 'state-dir', 'log-level'],
  ledger: ['config', 'root', 'state-dir'],
};

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? ExitCode.ok : ExitCode.usage;
  }
  if (command === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return ExitCode.ok;
  }
  try {
    if (command === 'emulator') {
      const { runEmulatorCommand } = await import('./emulator/main.js');
      return await runEmulatorCommand(rest, env);
    }
    const run = command === 'ledger' ? (await import('./ledger-command.js')).runLedgerCommand : commands[command];
    const allowed = ALLOWED[command];
    if (!run || !allowed) throw new ConfigError(`unknown command "${command}" (try files-sync --help)`);
    const context = parseCommandLine(command, rest, allowed, env);
    if (context.help) {
      process.stdout.write(`${USAGE}\n`);
      return ExitCode.ok;
    }
    return await run(context);
  } catch (err) {
    return reportFatal(err);
  }
}

function parseCommandLine(command: string, args: string[], allowed: readonly string[], env: NodeJS.ProcessEnv): CommandContext {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError(`${errorMessage(err)} (try files-sync --help)`);
  }
  const { values, positionals } = parsed;
  for (const key of Object.keys(values)) {
    if (key !== 'help' && !allowed.includes(key)) throw new ConfigError(`"${command}" does not take --${key}`);
  }
  if (command !== 'resolve' && command !== 'forget-copies' && command !== 'ledger' && positionals.length > 0) throw new ConfigError(`unexpected argument "${positionals[0]}"`);
  if (command === 'resolve' && positionals.length !== 1) throw new ConfigError('resolve takes exactly one PATH');
  const logFormat = values['log-format'];
  if (logFormat !== undefined && !['human', 'json', 'journal'].includes(logFormat)) {
    throw new ConfigError(`--log-format must be human, json or journal, not "${logFormat}"`);
  }
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !['error', 'warn', 'info', 'debug'].includes(logLevel)) {
    throw new ConfigError(`--log-level must be error, warn, info or debug, not "${logLevel}"`);
  }
  return {
    env,
    help: values.help ?? false,
    overrides: {
      ...(values.config !== undefined ? { configPath: values.config } : {}),
      ...(values.root !== undefined ? { root: values.root } : {}),
      ...(values['state-dir'] !== undefined ? { stateDir: values['state-dir'] } : {}),
    },
    dryRun: values['dry-run'] ?? false,
    allowMassDelete: values['allow-mass-delete'] ?? false,
    json: values.json ?? false,
    ...(logFormat !== undefined ? { logFormat: logFormat as CommandContext['logFormat'] & string } : {}),
    ...(logLevel !== undefined ? { logLevel: logLevel as CommandContext['logLevel'] & string } : {}),
    positionals,
  };
}

/** One line on stderr that names the problem, and the exit code that goes with it. */
function reportFatal(err: unknown): number {
  const code = err instanceof SyncError ? err.exitCode : ExitCode.usage;
  const message = err instanceof SyncError ? err.message : `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`files-sync: ${escapeText(redact(message))}\n`);
  return code;
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportFatal(err);
    },
  );
}
