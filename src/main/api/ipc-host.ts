// Serves the router to Electron windows from the backend process. Each window is one connection of tRPC's
// WebSocket connection handler over a socket-shaped relay, so queries, mutations and subscriptions behave
// exactly as in `serve`; only trpc-electron's request shape is translated to tRPC's wire format.
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import type { ApiContext, appRouter } from '../../shared/api';
import { isIpcRequest } from '../../shared/contract-ipc';

const OPEN = 1;
const CLOSED = 3;

class RelaySocket extends EventEmitter {
  readyState = OPEN;
  constructor(private readonly out: (msg: unknown) => void) {
    super();
  }
  send(data: string | Buffer) {
    if (this.readyState !== OPEN) return;
    const text = typeof data === 'string' ? data : data.toString('utf8');
    if (text === 'PONG' || text === 'PING') return;
    this.out(JSON.parse(text));
  }
  close() {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.emit('close');
  }
  terminate() {
    this.close();
  }
}

export interface IpcHost {
  /** A message from window `conn`; returns false (and does nothing) when it is not an API call. */
  message(conn: number, raw: unknown): boolean;
  /** The window went away: its subscriptions stop. */
  close(conn: number): void;
}

export function createIpcHost(
  router: typeof appRouter,
  createContext: () => ApiContext,
  send: (conn: number, msg: unknown) => void,
): IpcHost {
  // The handler's options type also names a `wss` it never reads in this path.
  const handler = getWSConnectionHandler({
    router,
    createContext: () => createContext(),
  } as unknown as Parameters<typeof getWSConnectionHandler<typeof appRouter>>[0]);
  const conns = new Map<number, RelaySocket>();
  const socket = (conn: number) => {
    let s = conns.get(conn);
    if (!s) {
      s = new RelaySocket((m) => send(conn, m));
      conns.set(conn, s);
      handler(s as never, { url: '/', headers: { host: 'electron' } } as IncomingMessage);
    }
    return s;
  };
  return {
    message(conn, raw) {
      if (!isIpcRequest(raw)) return false;
      const wire =
        raw.method === 'request'
          ? {
              id: raw.operation.id,
              method: raw.operation.type,
              params: { path: raw.operation.path, input: raw.operation.input },
            }
          : { id: raw.id, method: 'subscription.stop' };
      socket(conn).emit('message', Buffer.from(JSON.stringify(wire)), false);
      return true;
    },
    close(conn) {
      conns.get(conn)?.close();
      conns.delete(conn);
    },
  };
}
