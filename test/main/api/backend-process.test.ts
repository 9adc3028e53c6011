// The Electron backend process's message loop, driven through a stand-in for Electron's parent port.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { FromBackend, ToBackend } from '../../../src/main/api/backend-process';
import { tmpDir } from '../../helpers/tmp';

describe('Electron backend process', () => {
  it('opens the workbench on init, answers window calls, and hands key changes back to main', async () => {
    const fromBackend: FromBackend[] = [];
    const port = new EventEmitter() as EventEmitter & { postMessage(m: unknown): void };
    port.postMessage = (m) => fromBackend.push(m as FromBackend);
    (process as unknown as { parentPort: unknown }).parentPort = port;
    await import('../../../src/main/api/backend-process');
    const send = (m: ToBackend) => port.emit('message', { data: m });
    const home = tmpDir();
    send({ type: 'init', home, secrets: { openai: 'sk-from-keychain' } });
    expect(fromBackend[0]).toEqual({ type: 'ready', home });
    send({
      type: 'call',
      conn: 3,
      msg: { method: 'request', operation: { id: 1, type: 'query', path: 'secrets.status' } },
    });
    send({
      type: 'call',
      conn: 3,
      msg: {
        method: 'request',
        operation: { id: 2, type: 'mutation', path: 'secrets.set', input: { name: 'azure', value: 'k2' } },
      },
    });
    await expect.poll(() => fromBackend.filter((m) => m.type === 'reply').length).toBe(2);
    const status = fromBackend.find((m) => m.type === 'reply' && (m.msg as { id: number }).id === 1) as {
      msg: { result: { data: unknown } };
    };
    expect(status.msg.result.data).toEqual({ storage: 'os-keychain', names: ['openai'] });
    expect(fromBackend).toContainEqual({ type: 'secret', name: 'azure', value: 'k2' });
    expect(JSON.stringify(fromBackend.filter((m) => m.type === 'reply'))).not.toContain('sk-from-keychain');
    send({ type: 'close', conn: 3 });
    delete (process as unknown as { parentPort?: unknown }).parentPort;
  });
});
