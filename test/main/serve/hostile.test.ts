// Requests an attacker (or a page on another local port) can send: malformed encodings, foreign origins and Host
// names, cookies planted for another port. The server runs in a child process so that a request that throws shows
// up as the process dying.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

interface Child {
  p: ChildProcess;
  origin: string;
  port: number;
  token: string;
  stderr: () => string;
}
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

function serveChild(): Promise<Child> {
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'serve-child.ts'), tmpDir()],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  procs.push(p);
  let out = '';
  let err = '';
  p.stderr!.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    p.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ p, ...JSON.parse(line), stderr: () => err });
    });
    p.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

/** Sends raw bytes, returns the status code of the answer (0 when the connection closed without one). */
function raw(port: number, text: string): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let buf = '';
    s.on('data', (d) => {
      buf += d;
    });
    s.setTimeout(5000, () => s.destroy());
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1] ?? 0)));
    s.on('error', () => {});
  });
}

const get = (c: Child, target: string, headers: string[] = []) =>
  raw(
    c.port,
    [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${c.port}`, 'Connection: close', ...headers, '', ''].join(
      '\r\n',
    ),
  );

const wsStatus = (url: string, headers: Record<string, string> = {}) =>
  new Promise<number | 'open'>((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });

async function alive(c: Child) {
  expect(c.p.exitCode, c.stderr()).toBeNull();
  expect(await get(c, '/trpc/datasets.list', [`Authorization: Bearer ${c.token}`])).toBe(200);
}

describe('serve under hostile requests', () => {
  it('answers 400 to undecodable cookies, URLs and paths, and keeps serving', async () => {
    const c = await serveChild();
    // A cookie another local page can plant (cookies ignore ports): both the old and the per-port name.
    const bad = `Cookie: embedsmith_token=%; embedsmith_token_${c.port}=%`;
    expect(await get(c, '/', [bad])).toBe(400);
    await alive(c);
    const upgrade = [
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ];
    expect(
      await raw(
        c.port,
        [`GET /trpc-ws HTTP/1.1`, `Host: 127.0.0.1:${c.port}`, ...upgrade, bad, '', ''].join('\r\n'),
      ),
    ).toBe(400);
    await alive(c);
    expect(await get(c, 'http://[')).toBe(400);
    await alive(c);
    expect(
      await raw(
        c.port,
        [`GET http://[ HTTP/1.1`, `Host: 127.0.0.1:${c.port}`, ...upgrade, '', ''].join('\r\n'),
      ),
    ).toBe(400);
    await alive(c);
    expect(await get(c, '/%E0%A4%A', [`Authorization: Bearer ${c.token}`])).toBe(400);
    await alive(c);
    expect(await get(c, '/trpc/%E0%A4%A', [`Authorization: Bearer ${c.token}`])).not.toBe(0);
    await alive(c);
  }, 30_000);

  it('opens the WebSocket only for its own origin: scheme, host and port', async () => {
    const c = await serveChild();
    const ws = `ws://127.0.0.1:${c.port}/trpc-ws?token=${c.token}`;
    const other = c.port === 65535 ? c.port - 1 : c.port + 1;
    for (const origin of [
      `http://127.0.0.1:${other}`,
      `http://localhost:${other}`,
      `https://127.0.0.1:${c.port}`,
      `http://127.0.0.1`,
      `http://127.evil.example:${c.port}`,
      'null',
    ])
      expect(await wsStatus(ws, { origin }), origin).toBe(403);
    expect(await wsStatus(ws, { origin: c.origin })).toBe('open');
    expect(await wsStatus(ws, { origin: `http://localhost:${c.port}` })).toBe('open');
    await alive(c);
  }, 30_000);

  it('answers only to its own Host names with its own port (DNS rebinding)', async () => {
    const c = await serveChild();
    const auth = `Authorization: Bearer ${c.token}`;
    const withHost = (host: string) =>
      raw(
        c.port,
        [`GET /trpc/datasets.list HTTP/1.1`, `Host: ${host}`, 'Connection: close', auth, '', ''].join('\r\n'),
      );
    const other = c.port === 65535 ? c.port - 1 : c.port + 1;
    for (const host of [
      `127.evil.example:${c.port}`,
      `127.0.0.1.nip.io:${c.port}`,
      `127.0.0.1:${other}`,
      `localhost:${other}`,
      'attacker.example',
    ])
      expect(await withHost(host), host).toBe(421);
    expect(await withHost(`127.0.0.1:${c.port}`)).toBe(200);
    expect(await withHost(`localhost:${c.port}`)).toBe(200);
    expect(await withHost(`[::1]:${c.port}`)).toBe(200);
    // The WebSocket upgrade checks the same names.
    const ws = `ws://127.0.0.1:${c.port}/trpc-ws?token=${c.token}`;
    expect(await wsStatus(ws, { host: `127.evil.example:${c.port}` })).toBe(421);
  }, 30_000);

  it('names its cookie after its port, so a second serve does not log the first tab out', async () => {
    const [a, b] = await Promise.all([serveChild(), serveChild()]);
    const cookieOf = async (c: Child) => {
      const r = await fetch(`${c.origin}/?token=${c.token}`, { redirect: 'manual' });
      expect(r.status).toBe(302);
      return String(r.headers.get('set-cookie')).split(';')[0];
    };
    const ca = await cookieOf(a);
    const cb = await cookieOf(b);
    expect(ca.split('=')[0]).not.toBe(cb.split('=')[0]);
    // The browser sends both cookies to either port (cookies ignore ports); each server finds its own.
    expect(await get(a, '/', [`Cookie: ${ca}; ${cb}`])).toBe(200);
    expect(await get(b, '/', [`Cookie: ${cb}; ${ca}`])).toBe(200);
    expect(await get(a, '/', [`Cookie: ${cb}`])).toBe(401);
  }, 30_000);
});
