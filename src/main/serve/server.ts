// Browser mode: the same router as Electron IPC, over HTTP (queries, mutations) and WebSocket
// (subscriptions), plus the built renderer as static files. Every request and every WebSocket must carry
// the random token from the printed URL (query `?token=`, `Authorization: Bearer`, or the cookie set on
// the first visit); the Host header must name this server (DNS rebinding) and a WebSocket's Origin must
// be this server (cross-site WebSocket hijacking), both with its port: any local page can reach 127.0.0.1.
// Request data that does not decode is a 400: no request may end the process.
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

/** The session cookie's name: per port, because cookies ignore ports and a second serve must not replace it. */
export const cookieName = (port: number) => `embedsmith_token_${port}`;

/** Request data that cannot be decoded: answered 400. */
class BadRequest extends Error {}

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

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
/** A loopback bind address: the names above, ::1, or an IPv4 literal 127.x.y.z (not a DNS name starting "127."). */
export const isLoopback = (host: string) =>
  LOOPBACK_NAMES.includes(host) || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

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

const decode = (s: string, what: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BadRequest(`${what} is not valid percent-encoding`);
  }
};

function cookieToken(req: http.IncomingMessage, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (!raw) return undefined;
  for (const part of raw.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decode(v.join('='), 'cookie');
  }
  return undefined;
}

export function requestToken(req: http.IncomingMessage, url: URL, cookie: string): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return url.searchParams.get('token') ?? cookieToken(req, cookie);
}

const parseTarget = (req: http.IncomingMessage) => {
  try {
    return new URL(req.url ?? '/', 'http://x');
  } catch {
    throw new BadRequest('request target is not a valid URL');
  }
};

const sameToken = (a: string | undefined, b: string) => {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Host headers this server answers to, exactly: the bound address, plus the loopback names when bound to
 * loopback, each with the bound port (read when asked: port 0 is known only once listening). Bound to every
 * interface, any name with the bound port. A WebSocket's Origin: exactly http://NAME:PORT for such a name.
 */
function hostChecks(host: string, port: () => number) {
  const bracket = (h: string) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
  const names = () => new Set([bracket(host), ...(isLoopback(host) ? LOOPBACK_NAMES : [])]);
  const anyName = host === '0.0.0.0' || host === '::';
  const hostAllowed = (h: string | undefined) => {
    if (!h) return false;
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(h);
    if (!m) return false;
    const p = m[2] === undefined ? 80 : Number(m[2]);
    if (p !== port()) return false;
    return anyName || names().has(m[1].toLowerCase());
  };
  const originAllowed = (o: string) => {
    const m = /^http:\/\/([^/]+)$/.exec(o);
    return m !== null && hostAllowed(m[1]);
  };
  return { hostAllowed, originAllowed };
}

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
  let cookie = cookieName(port);

  const { hostAllowed, originAllowed } = hostChecks(host, () => port);

  const refuse = (res: http.ServerResponse, code: number, msg: string) => {
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`${msg}\n`);
  };

  const serveStatic = (res: http.ServerResponse, pathname: string) => {
    if (!rendererDir) return refuse(res, 404, 'no renderer build; run `npm run build`');
    const rel = decode(pathname, 'path').replace(/^\/+/, '');
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

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = parseTarget(req);
    if (!hostAllowed(req.headers.host))
      return refuse(res, 421, `host "${req.headers.host}" is not this server; use the printed URL`);
    const given = requestToken(req, url, cookie);
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
        'set-cookie': `${cookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
        location: `${url.pathname}${url.search}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      return res.end();
    }
    serveStatic(res, url.pathname);
  };
  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (res.headersSent) return res.destroy();
      if (e instanceof BadRequest) return refuse(res, 400, `bad request: ${e.message}`);
      refuse(res, 500, 'internal error');
    }
  });

  // Idle keep-alive connections stay open a minute (Node's default is 5 s): a connection opened while the
  // server is saturated waits behind the open ones (see BENCHMARKS.md, serve-load), and fewer reconnects race
  // fewer closes.
  server.keepAliveTimeout = 60_000;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  const wsHandler = applyWSSHandler({ wss, router: api.router, createContext: api.createContext });
  server.on('upgrade', (req, socket, head) => {
    const deny = (code: number, msg: string) => {
      // end() flushes the answer before closing (destroy() could drop it).
      socket.end(`HTTP/1.1 ${code} ${msg}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => socket.destroy());
    try {
      const url = parseTarget(req);
      if (!hostAllowed(req.headers.host)) return deny(421, 'Misdirected Request');
      // Browsers always send Origin on a WebSocket; a missing one is a non-browser client with the token.
      const origin = req.headers.origin;
      if (origin !== undefined && !originAllowed(origin)) return deny(403, 'Forbidden');
      if (url.pathname !== '/trpc-ws') return deny(404, 'Not Found');
      if (!sameToken(requestToken(req, url, cookie), token)) return deny(401, 'Unauthorized');
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch (e) {
      deny(
        e instanceof BadRequest ? 400 : 500,
        e instanceof BadRequest ? 'Bad Request' : 'Internal Server Error',
      );
    }
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
  cookie = cookieName(port);
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
