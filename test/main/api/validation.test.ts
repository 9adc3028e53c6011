// The same rules on every path: what the CLI refuses the API refuses, with the same one-line message, and no input
// makes the server answer 500. Requests go over a real HTTP server.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../../src/main/serve/server';
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
  wb = openWorkbench({ home });
  srv = await startServer({ wb, port: 0, rendererDir: null });
  const d = wb.store.datasets.create('d');
  wb.store.examples.insertMany(
    d.id,
    Array.from({ length: 30 }, (_, i) => ({
      kind: 'short-long' as const,
      query: `query ${i} about ${i % 3 ? 'rivers' : 'mountains'}`,
      positive: `positive ${i}`,
      status: 'accepted' as const,
    })),
  );
  return { home, wb, srv };
}

function call(
  s: RunningServer,
  proc: string,
  input: unknown,
  kind: 'query' | 'mutation',
): Promise<{ status: number; body: { result?: { data: unknown }; error?: { message: string } } }> {
  const json = encodeURIComponent(JSON.stringify(input));
  const p = kind === 'query' ? `/trpc/${proc}?input=${json}` : `/trpc/${proc}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: s.port,
        path: p,
        method: kind === 'query' ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
      },
    );
    req.on('error', reject);
    if (kind === 'mutation') req.write(JSON.stringify(input));
    req.end();
  });
}

describe('API validation parity', () => {
  it('examples.count with a NUL in the search answers, as if the NUL were a space', async () => {
    const { srv } = await start();
    const plain = await call(srv, 'examples.count', { dataset: 'd', filter: { search: 'rivers' } }, 'query');
    expect(plain.status).toBe(200);
    expect(plain.body.result?.data).toBeGreaterThan(0);
    for (const search of ['rivers\u0000', '\u0000rivers', 'riv\u0000 rivers\u0001']) {
      const r = await call(srv, 'examples.count', { dataset: 'd', filter: { search } }, 'query');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const r = await call(
      srv,
      'examples.count',
      { dataset: 'd', filter: { search: 'rivers\u0000' } },
      'query',
    );
    expect(r.body.result?.data).toBe(plain.body.result?.data);
    const page = await call(srv, 'examples.page', { dataset: 'd', filter: { search: '\u0000' } }, 'query');
    expect(page.status).toBe(200);
  });

  it('datasets.split refuses ratios that do not sum to 1, like the CLI, and moves no row', async () => {
    const { wb, srv } = await start();
    for (const ratios of [
      [0, 0, 0],
      [0.9, 0.1, 0.1],
    ]) {
      const r = await call(srv, 'datasets.split', { name: 'd', ratios }, 'mutation');
      expect(r.status).toBe(400);
      expect(r.body.error?.message).toMatch(/^ratios \[.*\] sum to [\d.]+, not 1; /);
    }
    const d = wb.store.datasets.get('d');
    expect(wb.store.examples.count(d.id, { split: 'none' })).toBe(30);
    const ok = await call(srv, 'datasets.split', { name: 'd', ratios: [0.5, 0.25, 0.25] }, 'mutation');
    expect(ok.status).toBe(200);
    expect(wb.store.examples.count(d.id, { split: 'none' })).toBe(0);
  });

  it('datasets.export onto an existing file refuses unless overwrite: true', async () => {
    const { home, wb, srv } = await start();
    const out = path.join(home, 'keep.jsonl');
    fs.writeFileSync(out, 'precious\n');
    const r = await call(srv, 'datasets.export', { name: 'd', out }, 'mutation');
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/keep\.jsonl already exists; .*overwrite: true/);
    expect(fs.readFileSync(out, 'utf8')).toBe('precious\n');
    const ok = await call(srv, 'datasets.export', { name: 'd', out, overwrite: true }, 'mutation');
    expect(ok.status).toBe(200);
    await expect
      .poll(() => wb.store.db.prepare('SELECT count(*) AS n FROM exports').pluck().get(), { timeout: 10_000 })
      .toBe(1);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(30);
  });
});
