// The preload exposes the typed contract's message channel and nothing else: no ipcRenderer, no Node.
// Runs sandboxed (CommonJS; `electron` is the only runtime import, the checker is bundled in). Messages
// are shape-checked here and in main, and every procedure input is validated by the router's zod schemas
// in the backend process.
import { contextBridge, ipcRenderer } from 'electron';
import { IPC_CHANNEL, isIpcRequest } from '../shared/contract-ipc';

contextBridge.exposeInMainWorld('embedsmith', {
  version: '0.1.0',
  ipc: {
    sendMessage(msg: unknown) {
      if (!isIpcRequest(msg)) throw new Error('embedsmith: refused a message that is not an API call');
      ipcRenderer.send(IPC_CHANNEL, msg);
    },
    onMessage(cb: (msg: unknown) => void) {
      ipcRenderer.on(IPC_CHANNEL, (_e, msg) => cb(msg));
    },
  },
});
