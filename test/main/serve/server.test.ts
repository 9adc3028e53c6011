import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AppRouter } from '../../../src/shared/api';
import type { AppEvent } from '../../../src/shared/contract';
import { cookieName, type RunningServer, startServer } from '../../../src/main/serve/server';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import { tmpDir } from '../../helpers/tmp';

let wb: Workbench | undefined;
let srv: RunningServer | undefined;
afterEach(async () => {
  await srv?.close();
  wb?.close();
  srv = undefined;
  wb = undefined;
});

async function start() {
  const home = tmpDir();
  const ui = path.join(home, 'ui');
  fs.mkdirSync(ui);
  fs.writeFileSync(path.join(ui, 'index.html'), '<!doctype html><title>ui</title>');
  fs.writeFileSync(path.join(home, 'secret.txt'), 'do not serve me');
  wb = openWorkbench({ home });
  srv = await startServer({ wb, port: 0, rendererDir: ui });
  return srv;
}

/** A raw HTTP request (fetch would normalise paths and forbid the Host header). */
function request(
  s: RunningServer,
  p: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: s.port, path: p, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

const wsStatus = (url: string, headers: Record<string, string> = {}) =>
  new Promise<number | 'open'>((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => {});
  });

describe('embedsmith serve transport', () => {
  it('binds loopback and prints a URL with a random token', async () => {
    const s = await start();
    expect(s.host).toBe('127.0.0.1');
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    const other = await startServer({ wb: wb!, port: 0, rendererDir: null });
    expect(other.token).not.toBe(s.token);
    await other.close();
  });

  it('refuses HTTP requests without the right token, for the UI and the API alike', async () => {
    const s = await start();
    for (const p of ['/', '/index.html', '/trpc/datasets.list', '/assets/x.js']) {
      const r = await request(s, p);
      expect(r.status, p).toBe(401);
      expect(r.body).toMatch(/missing token/);
      expect(r.body).not.toContain('ui');
    }
    const wrong = await request(s, '/trpc/datasets.list', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatch(/wrong token/);
    const wrongQuery = await request(s, `/?token=${s.token.slice(0, -1)}x`);
    expect(wrongQuery.status).toBe(401);
    const ok = await request(s, '/trpc/datasets.list', { headers: { authorization: `Bearer ${s.token}` } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).result.data).toEqual([]);
  });

  it('trades the URL token for an HttpOnly cookie and serves the UI with a strict CSP', async () => {
    const s = await start();
    const first = await request(s, `/?token=${s.token}`);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe('/');
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await request(s, '/', { headers: { cookie: cookie.split(';')[0] } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>ui</title>');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    // Paths out of the renderer folder never leave it.
    const trav = await request(s, '/..%2fsecret.txt', { headers: { cookie: cookie.split(';')[0] } });
    expect(trav.body).not.toContain('do not serve me');
  });

  it('refuses a Host header that is not this server (DNS rebinding)', async () => {
    const s = await start();
    const r = await request(s, '/trpc/datasets.list', {
      headers: { host: 'attacker.example:80', authorization: `Bearer ${s.token}` },
    });
    expect(r.status).toBe(421);
  });

  it('refuses WebSockets without the token or from another origin', async () => {
    const s = await start();
    const ws = `ws://127.0.0.1:${s.port}/trpc-ws`;
    expect(await wsStatus(ws)).toBe(401);
    expect(await wsStatus(`${ws}?token=wrong`)).toBe(401);
    expect(await wsStatus(`${ws}?token=${s.token}`, { origin: 'https://evil.example' })).toBe(403);
    expect(await wsStatus(`${ws}?token=${s.token}`, { origin: s.origin })).toBe('open');
    expect(await wsStatus(ws, { cookie: `${cookieName(s.port)}=${s.token}` })).toBe('open');
  });

  it('serves the typed client: queries over HTTP, event streams over WebSocket', async () => {
    const s = await start();
    const wsClient = createWSClient({
      url: `ws://127.0.0.1:${s.port}/trpc-ws?token=${s.token}`,
      WebSocket: WebSocket as never,
    });
    const client = createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: wsLink({ client: wsClient }),
          false: httpBatchLink({ url: `${s.origin}/trpc`, headers: { authorization: `Bearer ${s.token}` } }),
        }),
      ],
    });
    const events: AppEvent[] = [];
    const sub = client.events.subscribe(undefined, { onData: (e) => events.push(e as AppEvent) });
    // Wait for the subscription to be registered on the server before acting.
    await expect.poll(() => (wsClient.connection?.state === 'open' ? 1 : 0)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    const d = await client.datasets.create.mutate({ name: 'over-http' });
    expect(d.name).toBe('over-http');
    await expect.poll(() => events.some((e) => e.topic === 'datasets')).toBe(true);
    sub.unsubscribe();
    await wsClient.close();
  });

  it('refuses a payload that breaks the schema with a clear error, and changes nothing', async () => {
    const s = await start();
    const auth = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
    const post = (p: string, body: unknown) =>
      request(s, p, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    await post('/trpc/datasets.create', { name: 'keep' });
    const ex = wb!.store.examples.insertMany(wb!.store.datasets.get('keep').id, [
      { kind: 'sts', query: 'a', positive: 'b', negative: 'c' },
    ]).ids[0];

    const r1 = await post('/trpc/datasets.create', { name: '../../evil' });
    expect(r1.status).toBe(400);
    expect(JSON.parse(r1.body).error.message).toMatch(/^invalid request: name: use letters/);
    const r2 = await post('/trpc/examples.review', { id: ex, action: 'delete' });
    expect(r2.status).toBe(400);
    expect(JSON.parse(r2.body).error.message).toMatch(/action: /);
    const r3 = await post('/trpc/examples.edit', { id: ex, field: 'status', value: 'accepted' });
    expect(r3.status).toBe(400);
    const r4 = await post('/trpc/examples.bulkReview', {
      dataset: 'keep',
      filter: { kind: 'sts', sql: '1=1' },
      action: 'reject',
    });
    expect(r4.status).toBe(400);
    expect(JSON.parse(r4.body).error.message).toMatch(/Unrecognized key/);
    const r5 = await request(s, '/trpc/datasets.create', {
      method: 'POST',
      headers: auth,
      body: '{not json',
    });
    expect(r5.status).toBe(400);

    expect(wb!.store.datasets.list().map((d) => d.name)).toEqual(['keep']);
    expect(wb!.store.examples.get(ex)).toMatchObject({ status: 'unreviewed', query: 'a' });
    expect(wb!.store.examples.history(ex)).toEqual([]);
  });
});
