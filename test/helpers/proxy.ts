// A tampering proxy on loopback in front of an emulator: every request goes through to it, and the
// test may rewrite an answer on its way back (an API that answers wrongly). Closed by `close()`.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy hands a rewrite: the request's method and path (with query), the answer's status and JSON body. */
export interface Answer {
  method: string;
  url: string;
  status: number;
  body: unknown;
}

/** Returns the body to send instead, or undefined to send the answer as it came. */
export type Rewrite = (answer: Answer) => unknown;

/** Answers a request in the API's place (nothing reaches the emulator), or undefined to pass it on. */
export type Intercept = (method: string, url: string) => { status: number; body: unknown } | undefined;

export interface Proxy {
  url: string;
  /** The rewrite in force (none: a plain pass-through). */
  rewrite: Rewrite | undefined;
  /** Requests answered in the API's place (none: every request goes through). */
  intercept: Intercept | undefined;
  /** The status to send instead of the API's (undefined: its own), after the request went through. */
  restatus: ((answer: Answer) => number | undefined) | undefined;
  /** Requests seen, as `METHOD /path?query`. */
  seen: string[];
  close(): Promise<void>;
}

export async function tamperingProxy(target: string): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const proxy: Proxy = { url: '', rewrite: undefined, intercept: undefined, restatus: undefined, seen: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      proxy.seen.push(`${req.method} ${req.url}`);
      const own = proxy.intercept?.(req.method ?? '', req.url ?? '');
      if (own) {
        const body = Buffer.from(JSON.stringify(own.body));
        res.writeHead(own.status, { 'content-type': 'application/json', 'content-length': String(body.length), 'request-id': 'req_proxy' });
        res.end(body);
        return;
      }
      const headers = { ...req.headers };
      delete headers.host;
      const upstream = http.request(`${target}${req.url}`, { method: req.method, headers }, (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          const raw = Buffer.concat(parts);
          let body = raw;
          const type = String(up.headers['content-type'] ?? '');
          if (proxy.rewrite && type.includes('json')) {
            const replaced = proxy.rewrite({
              method: req.method ?? '',
              url: req.url ?? '',
              status: up.statusCode ?? 0,
              body: JSON.parse(raw.toString('utf8')),
            });
            if (replaced !== undefined) body = Buffer.from(JSON.stringify(replaced));
          }
          const out = { ...up.headers, 'content-length': String(body.length) };
          delete out['transfer-encoding'];
          let status = up.statusCode ?? 502;
          if (proxy.restatus && type.includes('json')) {
            const answer = { method: req.method ?? '', url: req.url ?? '', status, body: JSON.parse(raw.toString('utf8')) as unknown };
            status = proxy.restatus(answer) ?? status;
          }
          res.writeHead(status, out);
          res.end(body);
        });
      });
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
