// Command-line options of the bench and torture scripts: `node:util`'s parseArgs, with `--help`
// (and `-h`) printing the script's usage, and a mistyped option answered with what is wrong and
// the usage (exit 2) instead of a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs gives for `options`. */
type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O }>>['values'];

/** The parsed values of `options`; exits 0 after printing `usage` on `--help`, 2 on a bad option. */
export function scriptArgs<O extends Options>(usage: string, options: O): Values<O> {
  const text = usage.endsWith('\n') ? usage : `${usage}\n`;
  let parsed: Record<string, unknown>;
  try {
    parsed = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${text}`);
    process.exit(2);
  }
  if (parsed.help === true) {
    process.stdout.write(text);
    process.exit(0);
  }
  delete parsed.help;
  return parsed as Values<O>;
}
