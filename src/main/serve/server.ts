// Browser mode: the same router as Electron IPC, over HTTP (queries, mutations) and WebSocket
// (subscriptions), plus the built renderer as static files. Every request and every WebSocket must carry
// the random token from the printed URL (query `?token=`, `Authorization: Bearer`, or the cookie set on
// the first visit); the Host header must name this server (DNS rebinding) and a WebSocket's Origin must
// be this server (cross-site WebSocket hijacking).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { createApi } from '../api';
import { UserError } from '../errors';
import type { Workbench } from '../workbench';

export const COOKIE = 'embedsmith_token';

export interface ServeOptions {
  wb: Workbench;
  host?: string;
  port?: number;
  /** Folder with the built renderer (index.html + assets); null serves the API only. */
  rendererDir: string | null;
  token?: string;
}

export interface RunningServer {
  url: string;
  origin: string;
  token: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
export const isLoopback = (host: string) => LOOPBACK.has(host) || host.startsWith('127.');

// The renderer talks only to this origin; inline styles are what React's style props produce.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

function cookieToken(req: http.IncomingMessage): string | undefined {
  const raw = req.headers.cookie;
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export function requestToken(req: http.IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return url.searchParams.get('token') ?? cookieToken(req);
}

const sameToken = (a: string | undefined, b: string) => {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const api = createApi(opts.wb, { transport: 'http' });
  const trpc = createHTTPHandler({
    router: api.router,
    createContext: api.createContext,
    basePath: '/trpc/',
    maxBodySize: 4 * 1024 * 1024,
  });
  const rendererDir = opts.rendererDir ? path.resolve(opts.rendererDir) : null;
  let port = opts.port ?? 0;

  // Host names this server answers to: the bound host, and the loopback names when bound to loopback.
  const hostAllowed = (h: string | undefined) => {
    if (!h) return false;
    const name = h.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (host === '0.0.0.0' || host === '::') return true;
    if (name === host.replace(/^\[|\]$/g, '')) return true;
    return isLoopback(host) && isLoopback(name);
  };

  const refuse = (res: http.ServerResponse, code: number, msg: string) => {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`${msg}\n`);
  };

  const serveStatic = (res: http.ServerResponse, pathname: string) => {
    if (!rendererDir) return refuse(res, 404, 'no renderer build; run `npm run build`');
    const rel = decodeURIComponent(pathname).replace(/^\/+/, '');
    let file = path.resolve(rendererDir, rel || 'index.html');
    if (!file.startsWith(rendererDir + path.sep) && file !== rendererDir)
      return refuse(res, 403, 'forbidden');
    if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(rendererDir, 'index.html');
    const type = MIME[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, {
      'content-type': type,
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': file.endsWith('.html') ? 'no-store' : 'max-age=3600',
    });
    fs.createReadStream(file).pipe(res);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!hostAllowed(req.headers.host))
      return refuse(res, 421, `host "${req.headers.host}" is not this server; use the printed URL`);
    const given = requestToken(req, url);
    if (!sameToken(given, token))
      return refuse(
        res,
        401,
        given
          ? 'wrong token; open the URL that `embedsmith serve` printed (it ends in ?token=…)'
          : 'missing token; open the URL that `embedsmith serve` printed (it ends in ?token=…)',
      );
    if (url.pathname.startsWith('/trpc/')) {
      res.setHeader('cache-control', 'no-store');
      return trpc(req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
    // First visit with ?token=: keep it in an HttpOnly cookie and drop it from the address bar.
    if (url.searchParams.has('token')) {
      url.searchParams.delete('token');
      res.writeHead(302, {
        'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
        location: `${url.pathname}${url.search}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      return res.end();
    }
    serveStatic(res, url.pathname);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  const wsHandler = applyWSSHandler({ wss, router: api.router, createContext: api.createContext });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const deny = (code: number, msg: string) => {
      socket.write(`HTTP/1.1 ${code} ${msg}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (!hostAllowed(req.headers.host)) return deny(421, 'Misdirected Request');
    const origin = req.headers.origin;
    if (origin) {
      let o: URL | undefined;
      try {
        o = new URL(origin);
      } catch {}
      if (!o || !hostAllowed(o.host)) return deny(403, 'Forbidden');
    }
    if (url.pathname !== '/trpc-ws') return deny(404, 'Not Found');
    if (!sameToken(requestToken(req, url), token)) return deny(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new UserError(
              `port ${port} on ${host} is in use; pick another with --port, or --port 0 for any free one`,
            )
          : e,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const origin = `http://${urlHost}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    host,
    port,
    async close() {
      wsHandler.broadcastReconnectNotification();
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
