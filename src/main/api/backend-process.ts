// The Electron backend process: the workbench, every long job and the router, serving windows over
// Electron's parent port. Main relays window messages here ({type:'call'}) and replies back to windows.
import { type DialogAnswer, type DialogAsk, relayedDialogs } from '../dialogs';
import { openWorkbench } from '../workbench';
import { createApi } from '.';
import { createIpcHost } from './ipc-host';
import { createRelayedSecretStore } from './secrets';

interface Port {
  on(ev: 'message', fn: (e: { data: unknown }) => void): void;
  postMessage(m: unknown): void;
}

export type ToBackend =
  | { type: 'init'; home?: string; secrets: Record<string, string> }
  | { type: 'call'; conn: number; msg: unknown }
  | { type: 'close'; conn: number }
  | { type: 'quit' }
  | DialogAnswer;

export type FromBackend =
  | { type: 'ready'; home: string }
  | { type: 'reply'; conn: number; msg: unknown }
  | { type: 'secret'; name: string; value: string | null }
  | { type: 'fatal'; message: string }
  | DialogAsk;

const port = (process as unknown as { parentPort?: Port }).parentPort;
if (!port) throw new Error('backend-process runs only as an Electron utility process');
const post = (m: FromBackend) => port.postMessage(m);

let host: ReturnType<typeof createIpcHost> | undefined;
let close: (() => void) | undefined;
// Native dialogs belong to Electron's main process: asked for over the port, answered by main.
const dialogs = relayedDialogs((m) => post(m));

port.on('message', ({ data }) => {
  const m = data as ToBackend;
  if (m.type === 'init' && !host) {
    try {
      const wb = openWorkbench({ home: m.home });
      const secrets = createRelayedSecretStore(m.secrets, (name, value) =>
        post({ type: 'secret', name, value }),
      );
      const api = createApi(wb, { transport: 'ipc', secrets, dialogs });
      host = createIpcHost(api.router, api.createContext, (conn, msg) => post({ type: 'reply', conn, msg }));
      close = () => wb.close();
      post({ type: 'ready', home: wb.paths.home });
    } catch (e) {
      post({ type: 'fatal', message: (e as Error).message });
    }
  } else if (m.type === 'call') host?.message(m.conn, m.msg);
  else if (m.type === 'close') host?.close(m.conn);
  else if (m.type === 'dialog-result') dialogs.answer(m);
  else if (m.type === 'quit') {
    close?.();
    process.exit(0);
  }
});
