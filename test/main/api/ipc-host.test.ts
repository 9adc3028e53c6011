import { afterEach, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/main/api';
import { createIpcHost } from '../../../src/main/api/ipc-host';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import { tmpDir } from '../../helpers/tmp';

let wb: Workbench | undefined;
afterEach(() => {
  wb?.close();
  wb = undefined;
});

function setup() {
  wb = openWorkbench({ home: tmpDir() });
  const api = createApi(wb, { transport: 'ipc' });
  const out: { conn: number; msg: Record<string, unknown> }[] = [];
  const host = createIpcHost(api.router, api.createContext, (conn, msg) =>
    out.push({ conn, msg: msg as Record<string, unknown> }),
  );
  const reply = async (id: number) => {
    await expect.poll(() => out.some((o) => o.msg.id === id)).toBe(true);
    return out.find((o) => o.msg.id === id)!;
  };
  return { host, out, reply };
}

describe('backend IPC host (trpc-electron messages over the router)', () => {
  it('answers queries and mutations to the window that asked', async () => {
    const { host, reply } = setup();
    expect(
      host.message(7, {
        method: 'request',
        operation: { id: 1, type: 'mutation', path: 'datasets.create', input: { name: 'x' } },
      }),
    ).toBe(true);
    const r1 = await reply(1);
    expect(r1.conn).toBe(7);
    expect(r1.msg.result).toMatchObject({ type: 'data', data: { name: 'x', exampleCount: 0 } });
    host.message(8, { method: 'request', operation: { id: 2, type: 'query', path: 'datasets.list' } });
    const r2 = await reply(2);
    expect(r2.conn).toBe(8);
    expect((r2.msg.result as { data: { name: string }[] }).data.map((d) => d.name)).toEqual(['x']);
  });

  it('refuses bad payloads with a clear error and changes nothing', async () => {
    const { host, reply } = setup();
    host.message(1, {
      method: 'request',
      operation: { id: 3, type: 'mutation', path: 'datasets.create', input: { name: '../x' } },
    });
    const r = await reply(3);
    expect((r.msg.error as { message: string }).message).toMatch(/^invalid request: name: /);
    expect(host.message(1, { method: 'shell', cmd: 'rm -rf /' })).toBe(false);
    expect(
      host.message(1, {
        method: 'request',
        operation: { id: 4, type: 'query', path: '__proto__.constructor' },
      }),
    ).toBe(false);
    host.message(1, { method: 'request', operation: { id: 5, type: 'query', path: 'datasets.list' } });
    expect(((await reply(5)).msg.result as { data: unknown[] }).data).toEqual([]);
  });

  it('streams events to a subscribed window until it stops or closes', async () => {
    const { host, out, reply } = setup();
    host.message(1, { method: 'request', operation: { id: 10, type: 'subscription', path: 'events' } });
    await expect
      .poll(() => out.some((o) => o.msg.id === 10 && (o.msg.result as { type: string }).type === 'started'))
      .toBe(true);
    host.message(2, {
      method: 'request',
      operation: { id: 11, type: 'mutation', path: 'datasets.create', input: { name: 'y' } },
    });
    await reply(11);
    await expect
      .poll(() =>
        out.some(
          (o) => o.conn === 1 && (o.msg.result as { data?: { topic?: string } })?.data?.topic === 'datasets',
        ),
      )
      .toBe(true);
    host.message(1, { method: 'subscription.stop', id: 10 });
    await expect
      .poll(() => out.some((o) => o.msg.id === 10 && (o.msg.result as { type: string }).type === 'stopped'))
      .toBe(true);
    host.close(1);
    host.close(2);
  });
});
