// The commands behind the command line: the shared helpers and the table (one module per command
// under commands/).
export { COMMANDS, type CommandSpec } from './commands/index.js';
export { clientFor, ledgerPath, lockStateDir, loggerFor, type Command, type CommandContext } from './commands/shared.js';
export { printReport } from './commands/print-report.js';
