// The command line: parses arguments (commander, built from the table in commands/index.ts), runs
// one command, and turns errors into one clear line and an exit code a script or systemd can act on.
// First: files-sync's V8 flags are set before its modules run, and its heap policy comes with them (v8-flags.ts).
import { holdHeapFlat, watchHeap } from './v8-flags.js';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command as Program, CommanderError, Option } from 'commander';
import { COMMANDS, type CommandContext, type CommandSpec } from './commands.js';
import { OPTIONS } from './commands/options.js';
import { ExitCode, SyncError, exitCodeFor } from './errors.js';
import { escapeText } from './escape.js';
import { redact } from './log.js';
import { quietOnClosedPipe } from './pipe.js';

const FOOTER = `
The API key comes from ANTHROPIC_API_KEY, the config's api.keyFile, or the systemd credential
anthropic-api-key; never from the command line.

Exit codes: 0 done, 1 done with per-file failures, 2 usage, config or install error, 3 root missing
or a guard held deletes or uploads, 4 authentication failed, 5 remote unavailable after retries,
6 ledger unusable (damaged, read-only, deleted, I/O errors: see files-sync ledger check),
130 interrupted.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Turns commander's parsed values into the context every command receives. */
function contextOf(values: Record<string, unknown>, positionals: string[], env: NodeJS.ProcessEnv): CommandContext {
  const str = (key: string) => (typeof values[key] === 'string' ? values[key] : undefined);
  const config = str('config');
  const root = str('root');
  const stateDir = str('stateDir');
  const logFormat = str('logFormat') as CommandContext['logFormat'];
  const logLevel = str('logLevel') as CommandContext['logLevel'];
  return {
    env,
    help: false,
    overrides: {
      ...(config !== undefined ? { configPath: config } : {}),
      ...(root !== undefined ? { root } : {}),
      ...(stateDir !== undefined ? { stateDir } : {}),
    },
    dryRun: values.dryRun === true,
    allowMassDelete: values.allowMassDelete === true,
    allowDuplicates: values.allowDuplicates === true,
    json: values.json === true,
    force: values.force === true,
    ...(logFormat !== undefined ? { logFormat } : {}),
    ...(logLevel !== undefined ? { logLevel } : {}),
    positionals,
  };
}

function addCommand(program: Program, spec: CommandSpec, env: NodeJS.ProcessEnv, result: { code: number }): void {
  const cmd = program.command(spec.name).description(spec.summary);
  for (const arg of spec.args ?? []) cmd.argument(arg);
  for (const name of spec.options) {
    const o: { flags: string; description: string; choices?: readonly string[] } = OPTIONS[name];
    const option = new Option(o.flags, o.description);
    if (o.choices) option.choices(o.choices);
    cmd.addOption(option);
  }
  if (spec.details) cmd.addHelpText('after', `\n${spec.details}`);
  cmd.action(async (...args: unknown[]) => {
    const self = args[args.length - 1] as Program;
    const run = await spec.load();
    result.code = await run(contextOf(self.opts(), self.args, env));
  });
}

/** The commander program for every command of the table. */
function buildProgram(env: NodeJS.ProcessEnv, result: { code: number }): Program {
  const program = new Program('files-sync')
    .description('mirror a folder into an Anthropic workspace through the Files API')
    .version(version(), '-V, --version')
    .addHelpText('after', FOOTER)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      // One line: the problem, the suggestion commander found, and where help is. Escaped: the
      // argument it quotes may be a file's name (`files-sync resolve *`; rule 9).
      outputError: (s, writeErr) =>
        writeErr(
          `files-sync: ${escapeText(
            s
              .replace(/^error: /, '')
              .trimEnd()
              .replace(/\n\(Did you mean (.*)\?\)$/, ': did you mean $1?'),
          )} (see --help)\n`,
        ),
    });
  for (const spec of COMMANDS) addCommand(program, spec, env, result);
  // Listed for --help; the arguments go to its own parser (see main).
  program
    .command('emulator')
    .description('a local Files API emulator (see files-sync emulator --help)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments();
  return program;
}

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const result = { code: ExitCode.ok as number };
  const program = buildProgram(env, result);
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.usage;
  }
  try {
    // `help emulator` is the emulator's own --help (its options are its own parser's).
    if (argv[0] === 'help' && argv[1] === 'emulator') argv = ['emulator', '--help'];
    if (argv[0] === 'emulator') {
      // A server that runs as long as its user needs it: its heap stays near its live size.
      holdHeapFlat();
      const { runEmulatorCommand } = await import('./emulator/main.js');
      return await runEmulatorCommand(argv.slice(1), env);
    }
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with code 0; every other parse error is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    return reportFatal(err);
  }
}

/** One line on stderr that names the problem, and the exit code that goes with it. */
export function reportFatal(err: unknown): number {
  const known = err instanceof SyncError;
  const code = exitCodeFor(err);
  const message = known ? err.message : `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
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

/** Runs `process.argv` as the files-sync command (files-sync.ts calls it), and sets the exit code. */
export function runAsProgram(): void {
  quietOnClosedPipe();
  // Any command that grows its heap past 64 MB holds it flat from then on (v8-flags.ts).
  watchHeap();
  let settled = false;
  // A command still waiting when nothing is left to run (a promise no event will settle) would
  // end with exit 0 and nothing said: a bug, said as one.
  process.once('exit', () => {
    // An explicit process.exit (the daemon's forced end after a stop) has set the code.
    if (settled || process.exitCode !== undefined) return;
    process.stderr.write('files-sync: unexpected error: the command ended before it finished (nothing was left to wait for)\n');
    process.exitCode = ExitCode.usage;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (err: unknown) => {
      settled = true;
      process.exitCode = reportFatal(err);
    },
  );
}

// Run directly (`node dist/cli.js`, or the bundle `node dist/files-sync.cjs`) rather than loaded.
if (isMain()) runAsProgram();
