// `files-sync emulator`: runs the Files API emulator in the foreground until SIGINT or SIGTERM.
import { parseArgs } from 'node:util';
import { createLogger, detectLogFormat, registerSecret } from '../log.js';
import { DataDirError } from './backend.js';
import { DEFAULT_EMULATOR_KEY, DEFAULT_MAX_FILE_BYTES, startEmulator } from './index.js';
import type { EmulatorOptions } from './types.js';

const USAGE = `Usage: files-sync emulator [--port N] [--host 127.0.0.1] [--data-dir DIR] [--api-key KEY]
                          [--max-file-bytes N] [--rate-limit N[/WINDOW_MS]] [--latency-ms N]
                          [--delete-list-lag-ms N]

Runs a local Files API emulator. The key comes from --api-key, else FILES_SYNC_EMULATOR_KEY, else
the well-known test key ${DEFAULT_EMULATOR_KEY}. Without --data-dir files live in memory; a data
directory must be new, empty, or one the emulator made (it holds a .files-sync-emulator file).
--delete-list-lag-ms keeps a deleted file in listings that long, as the API may for a moment.`;

/** Where the command writes, and (for tests) a signal that stops it like SIGTERM does. */
export interface EmulatorCommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  signal?: AbortSignal;
}

class UsageError extends Error {}

function integer(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** Parses the command line into emulator options; throws UsageError. */
function parse(argv: string[], env: NodeJS.ProcessEnv): { options: EmulatorOptions; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'api-key': { type: 'string' },
        'max-file-bytes': { type: 'string' },
        'rate-limit': { type: 'string' },
        'latency-ms': { type: 'string' },
        'delete-list-lag-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options: EmulatorOptions = {
    apiKey: values['api-key'] ?? env.FILES_SYNC_EMULATOR_KEY ?? DEFAULT_EMULATOR_KEY,
    host: values.host ?? '127.0.0.1',
    port: integer('port', values.port, 0, 65535) ?? 0,
    maxFileBytes: integer('max-file-bytes', values['max-file-bytes'], 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_FILE_BYTES,
  };
  if (options.apiKey === '') throw new UsageError('the API key must not be empty');
  if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];
  const rate = values['rate-limit'];
  if (rate !== undefined) {
    const m = /^(\d+)(?:\/(\d+))?$/.exec(rate);
    const requests = Number(m?.[1]);
    const windowMs = m?.[2] === undefined ? 60_000 : Number(m[2]);
    if (!m || !(requests >= 1) || !(windowMs >= 1)) throw new UsageError('--rate-limit must be N or N/WINDOW_MS (positive integers)');
    options.rateLimit = { requests, windowMs };
  }
  const latency = integer('latency-ms', values['latency-ms'], 0, 3_600_000);
  const lag = integer('delete-list-lag-ms', values['delete-list-lag-ms'], 0, 3_600_000);
  if (latency !== undefined || lag !== undefined)
    options.faults = { ...(latency !== undefined ? { latencyMs: latency } : {}), ...(lag !== undefined ? { deleteListLagMs: lag } : {}) };
  return { options, help: values.help === true };
}

/**
 * Runs the emulator until SIGINT or SIGTERM (or `io.signal`), printing one line,
 * `files-sync emulator listening on URL`, to stdout. Resolves to 0 after a clean close, 2 on a
 * usage error (a data directory that is not the emulator's included), 1 when the server cannot start.
 */
export async function runEmulatorCommand(argv: string[], env: NodeJS.ProcessEnv, io: EmulatorCommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let parsed;
  try {
    parsed = parse(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`files-sync emulator: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help) {
    stdout.write(`${USAGE}\n`);
    return 0;
  }
  registerSecret(parsed.options.apiKey);
  const logger = createLogger({ format: detectLogFormat(env), stream: stderr }).child({ module: 'emulator' });
  let emulator;
  try {
    emulator = await startEmulator({ ...parsed.options, logger });
  } catch (err) {
    stderr.write(`files-sync emulator: cannot start: ${(err as Error).message}\n`);
    // A data directory that is not the emulator's is a usage error, like a bad option.
    return err instanceof DataDirError ? 2 : 1;
  }
  // The signal handlers first, then the line that says it listens: until a listener is installed
  // SIGTERM keeps its default action, so a caller that stops it on seeing the line could kill it
  // outright in between (seen once in CI: exit by signal instead of 0).
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (io.signal?.aborted) stop();
  else io.signal?.addEventListener('abort', stop);
  // One write: where it listens, then what a user runs in another shell to point files-sync at it.
  // The default key is a public test key; one given with --api-key is the user's and not echoed.
  const key = parsed.options.apiKey === DEFAULT_EMULATOR_KEY ? DEFAULT_EMULATOR_KEY : "'<the key given with --api-key>'";
  stdout.write(
    `files-sync emulator listening on ${emulator.url}\nto use it, in another shell:\n  export ANTHROPIC_BASE_URL=${emulator.url}\n  export ANTHROPIC_API_KEY=${key}\n`,
  );
  await stopped;
  await emulator.close();
  return 0;
}
