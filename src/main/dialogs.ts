// Native open/save dialogs for the app. Only Electron's main process may show them, but the API lives in
// the backend process: the backend asks main over the parent port and waits for the path. Electron's
// `dialog` is passed in (not imported), so the CLI and `serve` never load Electron.
import type { Inputs } from '../shared/contract';
import type { NativeDialogs } from './api/app-tools';

export type DialogRequest = Inputs['pathPick'];

/** The part of Electron's `dialog` module used here. */
export interface DialogModule {
  showOpenDialog(
    win: unknown,
    o: {
      title?: string;
      defaultPath?: string;
      properties: ('openFile' | 'openDirectory' | 'createDirectory' | 'showHiddenFiles')[];
      filters?: { name: string; extensions: string[] }[];
    },
  ): Promise<{ canceled: boolean; filePaths: string[] }>;
  showSaveDialog(
    win: unknown,
    o: { title?: string; defaultPath?: string; filters?: { name: string; extensions: string[] }[] },
  ): Promise<{ canceled: boolean; filePath?: string }>;
}

/** Main process: shows the dialog a request asks for; null when the person cancels. */
export async function answerDialog(
  dialog: DialogModule,
  win: unknown,
  req: DialogRequest,
): Promise<string | null> {
  const filters = req.extensions?.length
    ? [{ name: req.extensions.join(', '), extensions: req.extensions }]
    : undefined;
  if (req.mode === 'save') {
    const r = await dialog.showSaveDialog(win, { title: req.title, defaultPath: req.defaultPath, filters });
    return r.canceled || !r.filePath ? null : r.filePath;
  }
  const r = await dialog.showOpenDialog(win, {
    title: req.title,
    defaultPath: req.defaultPath,
    properties: req.mode === 'folder' ? ['openDirectory', 'createDirectory'] : ['openFile'],
    filters: req.mode === 'file' ? filters : undefined,
  });
  return r.canceled || !r.filePaths.length ? null : r.filePaths[0];
}

export type DialogAsk = { type: 'dialog'; id: number; req: DialogRequest };
export type DialogAnswer = { type: 'dialog-result'; id: number; path: string | null };

/** Backend process: dialogs answered by main; `answer` is fed main's replies. */
export function relayedDialogs(
  post: (m: DialogAsk) => void,
): NativeDialogs & { answer(m: DialogAnswer): void } {
  let next = 1;
  const waiting = new Map<number, (p: string | null) => void>();
  return {
    pick(req) {
      const id = next++;
      return new Promise<string | null>((resolve) => {
        waiting.set(id, resolve);
        post({ type: 'dialog', id, req });
      });
    },
    answer(m) {
      waiting.get(m.id)?.(m.path);
      waiting.delete(m.id);
    },
  };
}
