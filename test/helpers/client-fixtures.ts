// Fixtures of the client tests (emulators, clients, temp folders, local servers), closed at test end.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { FilesClient, type FilesClientOptions } from '../../src/remote/index.js';

/** The key the test emulators accept. Long enough to be registered as a secret. */
export const TEST_KEY = 'sk-ant-test-key-0123456789abcdef';

/** Back-off shortened for tests: the policy's shape is unchanged, only its scale. */
export const FAST_RETRY = {
  baseDelayMs: 5,
  maxDelayMs: 50,
  rateLimitBaseDelayMs: 20,
  rateLimitMaxDelayMs: 100,
} as const;

/** Starts an emulator on an ephemeral loopback port, closed when the test ends. */
export async function emulator(options: Partial<EmulatorOptions> = {}): Promise<Emulator> {
  const emu = await startEmulator({ apiKey: TEST_KEY, ...options });
  onTestFinished(() => emu.close());
  return emu;
}

/** A client for `baseUrl` with fast retries and no rate limit unless asked, closed when the test ends. */
export function client(baseUrl: string, options: Partial<FilesClientOptions> = {}): FilesClient {
  const c = new FilesClient({ baseUrl, apiKey: TEST_KEY, requestsPerMinute: Infinity, retry: FAST_RETRY, ...options });
  onTestFinished(() => c.close());
  return c;
}

/** A temp folder removed when the test ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'files-sync-client-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A node:http server the test controls, with what it saw. */
export interface LocalServer {
  url: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Arrival time (performance.now()) of each request. */
  arrivals: number[];
  /** Headers of each request. */
  headers: http.IncomingHttpHeaders[];
}

/** Starts a node:http server on loopback answering with `handler`, closed when the test ends. */
export async function localServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void): Promise<LocalServer> {
  const state: LocalServer = { url: '', connections: 0, arrivals: [], headers: [] };
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    state.arrivals.push(performance.now());
    state.headers.push(req.headers);
    handler(req, res, state.arrivals.length);
  });
  server.on('connection', (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** Sends a JSON answer. */
export function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': 'req_local',
    ...headers,
  });
  res.end(text);
}

/** An API error envelope. */
export function apiError(type: string, message: string): unknown {
  return { type: 'error', error: { type, message }, request_id: 'req_local' };
}

/** A valid FileMetadata for fake servers. */
export function fileMeta(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    type: 'file',
    filename: `${id}.txt`,
    mime_type: 'text/plain',
    size_bytes: 3,
    created_at: '2025-04-15T18:37:24.100435Z',
    downloadable: false,
    ...extra,
  };
}
