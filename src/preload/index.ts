// The preload exposes the typed contract's message channel and nothing else: no ipcRenderer, no Node.
// Runs sandboxed (CommonJS, `electron` is the only import). Messages are shape-checked here, and every
// procedure input is validated again by the router's zod schemas in main.
import { contextBridge, ipcRenderer } from 'electron';

/** trpc-electron's channel name (trpc-electron/src/constants.ts), kept literal so nothing else is bundled. */
const CHANNEL = 'trpc-electron';

type Msg =
  | { method: 'request'; operation: { id: number | string; type: string; path: string; input?: unknown } }
  | { method: 'subscription.stop'; id: number | string };

function isContractMessage(m: unknown): m is Msg {
  if (!m || typeof m !== 'object') return false;
  const x = m as Record<string, unknown>;
  if (x.method === 'subscription.stop') return typeof x.id === 'number' || typeof x.id === 'string';
  if (x.method !== 'request' || !x.operation || typeof x.operation !== 'object') return false;
  const op = x.operation as Record<string, unknown>;
  return (
    ['query', 'mutation', 'subscription'].includes(op.type as string) &&
    typeof op.path === 'string' &&
    /^[a-zA-Z.]{1,100}$/.test(op.path)
  );
}

contextBridge.exposeInMainWorld('embedsmith', {
  version: '0.1.0',
  ipc: {
    sendMessage(msg: unknown) {
      if (!isContractMessage(msg)) throw new Error('embedsmith: refused a message that is not an API call');
      ipcRenderer.send(CHANNEL, msg);
    },
    onMessage(cb: (msg: unknown) => void) {
      ipcRenderer.on(CHANNEL, (_e, msg) => cb(msg));
    },
  },
});
