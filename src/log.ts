// Logging through winston: human lines on a terminal, sd-daemon priority prefixes under journald,
// JSON lines for log shippers. Every line passes a redaction step for registered secrets, and the
// escaping of control characters (names from the folder must not forge lines: rule 9).
import { Writable } from 'node:stream';
import winston from 'winston';
import { escapeJson, escapeText } from './escape.js';

export type LogFormat = 'human' | 'journal' | 'json';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Logger = winston.Logger;

/** sd-daemon(3) priorities for the levels files-sync uses. */
const JOURNAL_PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

const secrets = new Set<string>();

/**
 * Registers a value that must never appear in a log line (the API key). Any occurrence is
 * replaced with `[redacted]`; the code should never log it in the first place, this is the net.
 */
export function registerSecret(value: string): void {
  if (value.length >= 8) secrets.add(value);
}

/** Replaces every registered secret in `text`. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

const redactFormat = winston.format((info) => {
  if (secrets.size === 0) return info;
  for (const key of Object.keys(info)) {
    const value = info[key];
    if (typeof value === 'string') info[key] = redact(value);
  }
  if (typeof info.message === 'string') info.message = redact(info.message);
  return info;
});

/** Fields that are part of every line's frame, not extra context. */
const FRAME = new Set(['level', 'message', 'module', 'timestamp']);

function contextOf(info: winston.Logform.TransformableInfo): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(info)) {
    if (FRAME.has(key) || typeof key === 'symbol') continue;
    if (value === undefined) continue;
    parts.push(`${escapeText(key)}=${typeof value === 'string' ? escapeText(value) : escapeJson(JSON.stringify(value) ?? 'undefined')}`);
  }
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}

/** `module: message`, escaped. */
function frameOf(info: winston.Logform.TransformableInfo): string {
  const module = typeof info.module === 'string' && info.module !== '' ? `${escapeText(info.module)}: ` : '';
  return `${module}${escapeText(String(info.message))}`;
}

/** JSON lines keep their value; C1, DEL, `<` before a digit and the other invisible characters become \u escapes. */
const escapedJsonLine = winston.format((info) => {
  const MESSAGE = Symbol.for('message');
  const line = (info as Record<symbol, unknown>)[MESSAGE];
  if (typeof line === 'string') (info as Record<symbol, unknown>)[MESSAGE] = escapeJson(line);
  return info;
});

function lineFormat(format: LogFormat): winston.Logform.Format {
  switch (format) {
    case 'json':
      return winston.format.combine(winston.format.timestamp(), winston.format.json(), escapedJsonLine());
    case 'journal':
      // journald stamps each line itself; the prefix sets the priority (sd-daemon(3)).
      return winston.format.printf((info) => {
        // Escaped, a name holding "\n<0>" cannot start an emergency-priority entry of its own.
        return `<${JOURNAL_PRIORITY[info.level] ?? 6}>${frameOf(info)}${contextOf(info)}`;
      });
    case 'human':
      return winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss' }),
        winston.format.printf((info) => {
          const level = info.level === 'info' ? '' : `${info.level.toUpperCase()} `;
          return `${String(info.timestamp)} ${level}${frameOf(info)}${contextOf(info)}`;
        }),
      );
  }
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stderr (stdout carries command output such as `ls --json`). */
  stream?: NodeJS.WritableStream;
}

/** Picks the log format from the environment the process runs in (called by the CLI only). */
export function detectLogFormat(env: NodeJS.ProcessEnv): LogFormat {
  return env.JOURNAL_STREAM ? 'journal' : 'human';
}

/** Creates the process's root logger; modules take `logger.child({ module: 'name' })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  return winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(redactFormat(), lineFormat(options.format ?? 'human')),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that drops everything: for library use and tests that do not look at logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

/** A logger that keeps its lines in memory, for tests that assert on what was logged. */
export function memoryLogger(level: LogLevel = 'debug', format: LogFormat = 'human'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      callback();
    },
  });
  return { logger: createLogger({ level, format, stream }), lines };
}
