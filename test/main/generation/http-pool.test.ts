import { afterEach, describe, expect, it } from 'vitest';
import { HttpPool, httpStats } from '../../../src/main/generation/http-pool';
import { Provider } from '../../../src/main/generation/provider';
import { type LlmServer, startLlmServer } from '../../helpers/llm-server';

// The HTTP worker on its own: the wire limit, cancelling a call still queued, and a worker that dies.
const servers: LlmServer[] = [];
const pools: HttpPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(latencyMs: number, concurrency: number) {
  const srv = await startLlmServer({ latencyMs });
  servers.push(srv);
  const options = { baseUrl: srv.url, apiKey: 'k', timeoutMs: 5000 };
  const pool = new HttpPool(new Provider(options), options, concurrency, true);
  pools.push(pool);
  await pool.ready;
  return { srv, pool };
}
const params = { temperature: 1, topP: 1, json: false };

describe('HttpPool (chat calls from a worker thread)', () => {
  it('answers every call handed to it, never more than `concurrency` at the server', async () => {
    const { srv, pool } = await setup(30, 3);
    expect(pool.threaded).toBe(true);
    const before = httpStats.threaded;
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.chat('m', `say ${i}`, params)));
    expect(rs.every((r) => typeof r.text === 'string' && r.text.length > 0)).toBe(true);
    expect(httpStats.threaded - before).toBe(10);
    expect(srv.counts.chat).toBe(10);
    expect(srv.counts.maxInFlight).toBe(3);
  });

  it('a call cancelled while queued never reaches the server; one cancelled on the wire is aborted', async () => {
    const { srv, pool } = await setup(200, 1);
    const first = new AbortController();
    const second = new AbortController();
    const a = pool.chat('m', 'one', { ...params, signal: first.signal });
    const b = pool.chat('m', 'two', { ...params, signal: second.signal });
    setTimeout(() => {
      second.abort();
      first.abort();
    }, 50);
    await expect(b).rejects.toMatchObject({ cls: 'aborted' });
    await expect(a).rejects.toMatchObject({ cls: 'aborted' });
    expect(srv.calls.map((c) => c.prompt)).toEqual(['one']);
  });

  it('calls held by a worker that dies are made again in this thread', async () => {
    const { srv, pool } = await setup(150, 4);
    const calls = Array.from({ length: 4 }, (_, i) => pool.chat('m', `again ${i}`, params));
    await new Promise((r) => setTimeout(r, 40));
    // biome-ignore lint/suspicious/noExplicitAny: reach the private worker to kill it, as a crash would
    await (pool as any).worker.terminate();
    const rs = await Promise.all(calls);
    expect(rs).toHaveLength(4);
    expect(pool.threaded).toBe(false);
    // The first four reached the server from the worker, then again from here.
    expect(srv.counts.chat).toBe(8);
  });
});
