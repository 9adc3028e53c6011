import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetch } from '../../../src/main/generation/fetch';

// biome-ignore lint/suspicious/noExplicitAny: test reads of JSON answers
const json = async (r: Response) => (await r.json()) as any;

// A real server: what the openai SDK's fetch option must handle besides plain JSON answers.
let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/echo') {
        res.writeHead(201, {
          'content-type': 'application/json',
          'set-cookie': ['a=1', 'b=2'],
          'x-one': 'v',
        });
        return res.end(
          JSON.stringify({
            method: req.method,
            body,
            auth: req.headers.authorization,
            type: req.headers['content-type'],
          }),
        );
      }
      if (req.url === '/empty') {
        res.writeHead(204);
        return res.end();
      }
      if (req.url === '/moved') {
        res.writeHead(307, { location: '/echo' });
        return res.end();
      }
      if (req.url === '/see-other') {
        res.writeHead(303, { location: `/echo?from=${req.method}` });
        return res.end('ignored');
      }
      if (req.url?.startsWith('/echo?')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ method: req.method, body, url: req.url }));
      }
      if (req.url === '/slow') return; // never answers
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"no such route"}}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('createFetch (the SDK transport over undici request)', () => {
  const f = createFetch();

  it('sends method, headers and a string body; returns status, every header value and the body', async () => {
    const headers = new Headers({ authorization: 'Bearer k', 'content-type': 'application/json' });
    const r = await f(`${base}/echo`, { method: 'post', headers, body: '{"x":1}' });
    expect(r.status).toBe(201);
    expect(r.ok).toBe(true);
    expect(r.headers.get('x-one')).toBe('v');
    expect(r.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await json(r)).toEqual({
      method: 'POST',
      body: '{"x":1}',
      auth: 'Bearer k',
      type: 'application/json',
    });
  });

  it('accepts plain-object headers and byte bodies, and follows a redirect', async () => {
    const r = await f(new URL(`${base}/moved`), {
      method: 'GET',
      headers: { authorization: 'Bearer z' },
    });
    expect(r.status).toBe(201);
    expect((await json(r)).auth).toBe('Bearer z');
    // 307 keeps method and body; 303 turns into a body-less GET.
    const kept = await f(`${base}/moved`, { method: 'POST', body: 'kept' });
    expect(await json(kept)).toMatchObject({ method: 'POST', body: 'kept' });
    const seen = await f(`${base}/see-other`, { method: 'POST', body: 'dropped' });
    expect(await json(seen)).toEqual({ method: 'GET', body: '', url: '/echo?from=POST' });
    const b = await f(`${base}/echo`, { method: 'PUT', body: new TextEncoder().encode('bytes') });
    expect((await json(b)).body).toBe('bytes');
  });

  it('reads a body once, like any Response, and still offers clone(), blob() and the body stream', async () => {
    const r = await f(`${base}/echo`, { method: 'POST', body: 'x' });
    const c = r.clone();
    expect(r.bodyUsed).toBe(false);
    expect(JSON.parse(await r.text()).body).toBe('x');
    expect(r.bodyUsed).toBe(true);
    await expect(r.json()).rejects.toThrow(TypeError);
    expect(() => r.clone()).toThrow(TypeError);
    expect((await c.blob()).type).toBe('application/json');
    const s = await f(`${base}/echo`, { method: 'POST', body: 'y' });
    const text = await new Response(s.body).text();
    expect(JSON.parse(text).body).toBe('y');
  });

  it('gives a 204 a null body and passes error statuses through', async () => {
    const r = await f(`${base}/empty`, { method: 'DELETE' });
    expect(r.status).toBe(204);
    expect(r.body).toBeNull();
    const nf = await f(`${base}/nothing`);
    expect(nf.status).toBe(404);
    expect((await json(nf)).error.message).toBe('no such route');
  });

  it('sends FormData through the global fetch (multipart uploads of the Batch API)', async () => {
    const fd = new FormData();
    fd.append('purpose', 'batch');
    const r = await f(`${base}/echo`, { method: 'POST', body: fd });
    const j = await json(r);
    expect(j.type).toMatch(/^multipart\/form-data; boundary=/);
    expect(j.body).toContain('name="purpose"');
  });

  it('rejects with an AbortError when the signal fires (how the SDK times a request out)', async () => {
    const ac = new AbortController();
    const p = f(`${base}/slow`, { method: 'POST', body: '{}', signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
});
