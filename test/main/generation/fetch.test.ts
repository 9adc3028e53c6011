import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetch } from '../../../src/main/generation/fetch';

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
    expect(await r.json()).toEqual({
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
    expect((await r.json()).auth).toBe('Bearer z');
    const b = await f(`${base}/echo`, { method: 'PUT', body: new TextEncoder().encode('bytes') });
    expect((await b.json()).body).toBe('bytes');
  });

  it('gives a 204 a null body and passes error statuses through', async () => {
    const r = await f(`${base}/empty`, { method: 'DELETE' });
    expect(r.status).toBe(204);
    expect(r.body).toBeNull();
    const nf = await f(`${base}/nothing`);
    expect(nf.status).toBe(404);
    expect((await nf.json()).error.message).toBe('no such route');
  });

  it('sends FormData through the global fetch (multipart uploads of the Batch API)', async () => {
    const fd = new FormData();
    fd.append('purpose', 'batch');
    const r = await f(`${base}/echo`, { method: 'POST', body: fd });
    const j = await r.json();
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
