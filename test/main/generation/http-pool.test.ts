import { afterEach, describe, expect, it } from 'vitest';
import { HttpPool, httpStats } from '../../../src/main/generation/http-pool';
import { Provider } from '../../../src/main/generation/provider';
import { gate, type LlmServer, type LlmServerOptions, startLlmServer } from '../../helpers/llm-server';

// The HTTP worker on its own: the wire limit, cancelling a call still queued, and a worker that dies.
const servers: LlmServer[] = [];
const pools: HttpPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(latencyMs: number, concurrency: number, more: LlmServerOptions = {}) {
  const srv = await startLlmServer({ latencyMs, ...more });
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
    // The first three are held until all three are at the server: the limit is reached whatever the load.
    const first = gate();
    const { srv, pool } = await setup(5, 3, { hold: (c) => (c.n < 3 ? first.wait() : undefined) });
    first.arrived(3).then(first.open);
    expect(pool.threaded).toBe(true);
    const before = httpStats.threaded;
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.chat('m', `say ${i}`, params)));
    expect(rs.every((r) => typeof r.text === 'string' && r.text.length > 0)).toBe(true);
    expect(httpStats.threaded - before).toBe(10);
    expect(srv.counts.chat).toBe(10);
    expect(srv.counts.maxInFlight).toBe(3);
  });

  it('a call cancelled while queued never reaches the server; one cancelled on the wire is aborted', async () => {
    // 'one' is held at the server until both are cancelled, so 'two' is still queued in the worker then.
    const held = gate();
    const { srv, pool } = await setup(0, 1, { hold: () => held.wait() });
    const first = new AbortController();
    const second = new AbortController();
    const a = pool.chat('m', 'one', { ...params, signal: first.signal });
    const b = pool.chat('m', 'two', { ...params, signal: second.signal });
    await held.arrived(1);
    second.abort();
    first.abort();
    await expect(b).rejects.toMatchObject({ cls: 'aborted' });
    await expect(a).rejects.toMatchObject({ cls: 'aborted' });
    held.open();
    expect(srv.calls.map((c) => c.prompt)).toEqual(['one']);
  });

  it('calls held by a worker that dies are made again in this thread', async () => {
    // The server holds the worker's four calls until the worker is dead (no guess at how long they take
    // to arrive); the calls made again from this thread are answered at once.
    const held = gate();
    let n = 0;
    const { srv, pool } = await setup(0, 4, { hold: () => (n++ < 4 ? held.wait() : undefined) });
    const calls = Array.from({ length: 4 }, (_, i) => pool.chat('m', `again ${i}`, params));
    await held.arrived(4);
    // biome-ignore lint/suspicious/noExplicitAny: reach the private worker to kill it, as a crash would
    await (pool as any).worker.terminate();
    const rs = await Promise.all(calls);
    held.open();
    expect(rs).toHaveLength(4);
    expect(pool.threaded).toBe(false);
    // The first four reached the server from the worker, then again from here.
    expect(srv.counts.chat).toBe(8);
    expect(
      srv.calls
        .slice(4)
        .map((c) => c.prompt)
        .sort(),
    ).toEqual(['again 0', 'again 1', 'again 2', 'again 3']);
  });
});
