// The one message shape the preload may send over IPC (trpc-electron's): an API call or the stop of a
// subscription. Checked in the preload, again in main, and in the backend process.

export const IPC_CHANNEL = 'trpc-electron';

export type IpcRequest =
  | {
      method: 'request';
      operation: {
        id: number | string;
        type: 'query' | 'mutation' | 'subscription';
        path: string;
        input?: unknown;
      };
    }
  | { method: 'subscription.stop'; id: number | string };

const isId = (v: unknown) => typeof v === 'number' || (typeof v === 'string' && v.length <= 64);

export function isIpcRequest(m: unknown): m is IpcRequest {
  if (!m || typeof m !== 'object') return false;
  const x = m as Record<string, unknown>;
  if (x.method === 'subscription.stop') return isId(x.id);
  if (x.method !== 'request' || !x.operation || typeof x.operation !== 'object') return false;
  const op = x.operation as Record<string, unknown>;
  return (
    isId(op.id) &&
    (op.type === 'query' || op.type === 'mutation' || op.type === 'subscription') &&
    typeof op.path === 'string' &&
    /^[a-zA-Z]+(\.[a-zA-Z]+){0,4}$/.test(op.path)
  );
}
