// Picks the transport at runtime: the preload's IPC bridge inside Electron (`window.embedsmith`), else HTTP
// for queries and mutations plus a WebSocket for event streams, both to the page's own origin (the serve
// token travels in its HttpOnly cookie). Screens only see the typed client.
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  splitLink,
  type TRPCClient,
  wsLink,
} from '@trpc/client';
import { ipcLink } from 'trpc-electron/renderer';
import type { AppRouter } from '../../../shared/api';
import { guiError } from '../gui-errors';

export type ApiClient = TRPCClient<AppRouter>;

/** What the preload exposes (src/preload/index.ts): the contract's message channel and nothing else. */
export interface EmbedsmithBridge {
  version: string;
  ipc: {
    sendMessage(msg: unknown): void;
    onMessage(cb: (msg: unknown) => void): void;
  };
}

declare global {
  interface Window {
    embedsmith?: EmbedsmithBridge;
  }
}

export function createApiClient(): ApiClient {
  const bridge = window.embedsmith;
  if (bridge) {
    // trpc-electron's link looks for this global; the preload exposes it under our own name instead.
    (globalThis as unknown as { electronTRPC: EmbedsmithBridge['ipc'] }).electronTRPC = bridge.ipc;
    return createTRPCClient<AppRouter>({ links: [ipcLink()] });
  }
  const http = `${location.origin}/trpc`;
  const ws = createWSClient({ url: `${location.origin.replace(/^http/, 'ws')}/trpc-ws` });
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: ws }),
        false: httpBatchLink({ url: http, maxURLLength: 4000 }),
      }),
    ],
  });
}

/**
 * A readable message for any error a call can throw (schema issues and UserErrors come through as text),
 * in the app's words: controls and buttons rather than CLI flags and commands (gui-errors.ts).
 */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    if (/Failed to fetch|NetworkError|ECONNREFUSED/.test(e.message))
      return 'cannot reach the Embedsmith server; check that `embedsmith serve` is still running, then reload';
    return guiError(e.message).text;
  }
  return String(e);
}
