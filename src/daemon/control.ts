// The daemon's control socket (DESIGN.md rule 7): `control.sock` in the state directory, mode 0600,
// newline-delimited JSON. This is the server side, run by the daemon; the client side, what
// `files-sync sync` and `files-sync status` use while a daemon runs, is commands/daemon-client.ts.
//
// Requests (one line each): {"cmd":"sync","allowMassDelete":false,"allowDuplicates":false} | {"cmd":"status"}
// Answers: {"progress":{"phase":"scan"|"sync",...}}* then {"report":SyncReport}; {"status":{...}};
// or {"error":{"message":"...","exitCode":N}}. The server closes the connection after the answer.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ConfigError, ExitCode, errorMessage, exitCodeFor } from '../errors.js';
import type { Logger } from '../log.js';
import type { Progress } from '../sync/types.js';
import type { SyncReport } from '../sync/reconcile.js';
import type { Allow, ProgressListener } from './loop.js';

/** The socket's name in the state directory. */
export const SOCKET_NAME = 'control.sock';

/** A request line. */
export type ControlRequest = { cmd: 'sync'; allowMassDelete?: boolean; allowDuplicates?: boolean } | { cmd: 'status' };

/** An answer line. */
export type ControlMessage =
  | { progress: Progress & { phase: 'scan' | 'sync' } }
  | { report: SyncReport }
  | { status: unknown }
  | { error: { message: string; exitCode: number } };

/** What the daemon answers requests with. */
export interface ControlHandlers {
  /** Reconcile now: join the running reconciliation if its walk has not begun, else its follow-up. */
  sync: (allow: Allow, onProgress: ProgressListener) => Promise<SyncReport>;
  status: () => unknown;
}

/** A listening control socket; `close()` is safe to call twice. */
export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

/** Longest request line accepted; a connection past it is dropped at once. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** A connection that has not sent its request line within this long is dropped. */
const REQUEST_IDLE_MS = 10_000;
/** How long an error answer to a dropped connection may take to flush before the drop. */
const DROP_FLUSH_MS = 1_000;
/** Unix socket paths hold at most 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

/** The control socket of a state directory. */
export function socketPath(stateDir: string): string {
  return path.join(stateDir, SOCKET_NAME);
}

/** Where to bind `file` (in `stateDir`): through `/proc/self/fd` of an open descriptor of the directory on Linux, else the path. */
function boundVia(stateDir: string, file: string): { dir: number | undefined; bindPath: string } {
  if (process.platform !== 'linux') return { dir: undefined, bindPath: file };
  const dir = fs.openSync(stateDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const bindPath = `/proc/self/fd/${dir}/${SOCKET_NAME}`;
  if (fs.existsSync(`/proc/self/fd/${dir}`)) return { dir, bindPath };
  fs.closeSync(dir);
  return { dir: undefined, bindPath: file };
}

/**
 * Listens on `control.sock` (mode 0600). The caller holds the state directory's lock, so a socket
 * file already there is stale (a crash) and is removed.
 */
export async function startControlServer(stateDir: string, handlers: ControlHandlers, logger: Logger): Promise<ControlServer> {
  const file = socketPath(stateDir);
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
    throw new ConfigError(`the control socket path ${file} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter stateDir`);
  }
  fs.rmSync(file, { force: true });
  // Bound through an open descriptor of the state directory: node unlinks the path it listened on
  // when it closes, and should the directory be moved away meanwhile (and another daemon start in
  // a new one), that path must still name this directory's socket, not the new daemon's.
  const { dir, bindPath } = boundVia(stateDir, file);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, handlers, logger);
  });
  const mask = process.umask(0o177); // never a moment with a socket others may open
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bindPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if (dir !== undefined) fs.closeSync(dir);
    throw err;
  } finally {
    process.umask(mask);
  }
  try {
    fs.chmodSync(bindPath, 0o600);
  } catch (err) {
    server.close(); // a start that fails must not leave a listening socket behind
    if (dir !== undefined) fs.closeSync(dir);
    throw err;
  }
  server.on('error', (err) => logger.warn('control socket error', { error: errorMessage(err) }));
  let closing: Promise<void> | undefined;
  return {
    path: file,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }).then(() => {
        fs.rmSync(bindPath, { force: true });
        if (dir !== undefined) fs.closeSync(dir);
      });
      return closing;
    },
  };
}

/**
 * Reads one request line: buffers at most MAX_REQUEST_BYTES, scans only the new bytes for the
 * newline, and drops a connection that sends more or stays silent (a local user must not be able
 * to grow the daemon or hold its connections open).
 */
function readRequest(socket: net.Socket, onLine: (line: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const drop = (message: string) => {
    socket.off('data', onData);
    socket.pause();
    const answer: ControlMessage = { error: { message, exitCode: ExitCode.usage } };
    const timer = setTimeout(() => socket.destroy(), DROP_FLUSH_MS);
    timer.unref();
    socket.write(`${JSON.stringify(answer)}\n`, () => {
      clearTimeout(timer);
      socket.destroy();
    });
  };
  const onData = (chunk: Buffer) => {
    const nl = chunk.indexOf(0x0a);
    if (nl < 0) {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) return drop(`request too long (over ${MAX_REQUEST_BYTES} bytes)`);
      chunks.push(chunk);
      return;
    }
    if (size + nl > MAX_REQUEST_BYTES) return drop(`request too long (over ${MAX_REQUEST_BYTES} bytes)`);
    socket.off('data', onData);
    socket.setTimeout(0); // a sync may take long; the answer closes the connection
    chunks.push(chunk.subarray(0, nl));
    onLine(Buffer.concat(chunks).toString('utf8'));
  };
  socket.setTimeout(REQUEST_IDLE_MS, () => drop(`no request within ${REQUEST_IDLE_MS / 1000} s`));
  socket.on('data', onData);
}

function serve(socket: net.Socket, handlers: ControlHandlers, logger: Logger): void {
  const send = (message: ControlMessage) => {
    if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
  };
  const fail = (message: string, exitCode: number) => {
    send({ error: { message, exitCode } });
    socket.end();
  };
  socket.on('error', () => undefined); // the client went away: nothing to tell it
  readRequest(socket, (line) => {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
    } catch {
      return fail('bad request: not JSON', ExitCode.usage);
    }
    if (request?.cmd === 'status') {
      send({ status: handlers.status() });
      socket.end();
      return;
    }
    if (request?.cmd !== 'sync') return fail(`unknown command ${JSON.stringify((request as { cmd?: unknown })?.cmd)}`, ExitCode.usage);
    const allow: Allow = { massDelete: request.allowMassDelete === true, duplicates: request.allowDuplicates === true };
    logger.info('reconciliation requested over the control socket', {
      allowMassDelete: allow.massDelete,
      allowDuplicates: allow.duplicates,
    });
    let lastProgress = 0;
    handlers
      .sync(allow, (phase, progress) => {
        const now = Date.now();
        // Throttled always: the totals grow while the reconciliation decides; the report ends it.
        if (now - lastProgress < 100) return;
        lastProgress = now;
        send({ progress: { phase, ...progress } });
      })
      .then(
        (report) => {
          send({ report });
          socket.end();
        },
        (err: unknown) => fail(errorMessage(err), exitCodeFor(err)),
      );
  });
}
