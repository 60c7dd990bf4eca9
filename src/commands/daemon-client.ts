// The command line's side of the daemon's control socket (DESIGN.md rule 7; the server is
// daemon/control.ts): `syncThroughDaemon` and `queryDaemon` are what `files-sync sync` and
// `files-sync status` use while a daemon holds the state directory.
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { CommandContext } from '../app.js';
import type { Config } from '../config.js';
import { socketPath, type ControlMessage, type ControlRequest } from '../daemon/control.js';
import { ExitCode, SyncError, errorMessage } from '../errors.js';
import { readLock } from '../lock.js';
import type { Logger } from '../log.js';
import { ProgressView } from '../sync/report.js';
import { printReport } from './print-report.js';

function connect(file: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(file);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Sends one request; yields the answer lines until the daemon closes the connection. */
async function* ask(
  config: Config,
  request: ControlRequest,
  connectTimeoutMs: number,
  signal?: AbortSignal,
): AsyncGenerator<ControlMessage> {
  const file = socketPath(config.stateDir);
  let socket: net.Socket;
  try {
    socket = await connect(file, connectTimeoutMs);
  } catch (err) {
    const pid = readLock(path.join(config.stateDir, 'lock'))?.pid;
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new SyncError(
      `a files-sync daemon${pid ? ` (pid ${pid})` : ''} holds ${config.stateDir}, but its control socket ${file} does not answer (${code}); ` +
        'see its log (journalctl -u files-sync), or stop it to run a one-shot sync',
      ExitCode.usage,
      { cause: err },
    );
  }
  const hangUp = () => socket.destroy();
  signal?.addEventListener('abort', hangUp, { once: true });
  try {
    socket.write(`${JSON.stringify(request)}\n`);
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    // A socket destroyed by the hang-up never ends: closing the reader ends the loop, and the
    // caller says why (else nothing is left to run, and node exits 0 with the command unfinished).
    socket.once('close', () => lines.close());
    for await (const line of lines) {
      if (line.trim() !== '') yield JSON.parse(line) as ControlMessage;
    }
  } finally {
    signal?.removeEventListener('abort', hangUp);
    socket.destroy();
  }
}

/**
 * `files-sync sync` while a daemon runs (DESIGN.md rule 7): asks the daemon to reconcile now,
 * shows its progress, prints its report as a one-shot run would and returns the same exit code.
 * The ledger is never opened here.
 */
export async function syncThroughDaemon(config: Config, context: CommandContext, logger: Logger, signal?: AbortSignal): Promise<number> {
  const pid = readLock(path.join(config.stateDir, 'lock'))?.pid;
  logger.info(`a files-sync daemon${pid ? ` (pid ${pid})` : ''} holds ${config.stateDir}: asking it to reconcile now`);
  const view = new ProgressView(process.stderr, Boolean(process.stderr.isTTY) && !context.json);
  try {
    for await (const message of ask(
      config,
      { cmd: 'sync', allowMassDelete: context.allowMassDelete, allowDuplicates: context.allowDuplicates === true },
      5_000,
      signal,
    )) {
      if ('progress' in message) {
        const { phase, ...progress } = message.progress;
        view.update(phase, progress);
      } else if ('report' in message) {
        view.finish();
        printReport(message.report, context.json);
        return message.report.exitCode;
      } else if ('error' in message) {
        throw new SyncError(`the daemon could not reconcile: ${message.error.message}`, message.error.exitCode as ExitCode);
      }
    }
    // `signal` (Ctrl-C) hangs up: the caller says so; the daemon's reconciliation goes on.
    if (signal?.aborted) throw new SyncError('interrupted', ExitCode.interrupted);
    throw new SyncError('the daemon closed the control connection without a report (did it stop?)', ExitCode.fileFailures);
  } finally {
    view.finish();
  }
}

/** The daemon's live state (`files-sync status`), within a few seconds or an error. */
export async function queryDaemon(config: Config, what: 'status'): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5_000);
  try {
    for await (const message of ask(config, { cmd: what }, 2_000, controller.signal)) {
      if ('status' in message) return message.status;
      if ('error' in message) throw new SyncError(message.error.message, message.error.exitCode as ExitCode);
    }
    if (controller.signal.aborted) throw new SyncError('the daemon did not answer within 5 s', ExitCode.usage);
    throw new SyncError('the daemon closed the control connection without an answer', ExitCode.usage);
  } finally {
    clearTimeout(timer);
  }
}
