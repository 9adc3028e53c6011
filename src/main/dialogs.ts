// Native open/save dialogs for the app. Only Electron's main process may show them, but the API lives in
// the backend process: the backend asks main over the parent port and waits for the path. Electron's
// `dialog` is passed in (not imported), so the CLI and `serve` never load Electron.
import type { Inputs } from '../shared/contract';
import type { NativeDialogs } from './api/app-tools';

/** A dialog to show, or a folder to open in the desktop's file manager ('open'). */
export type DialogRequest = Inputs['pathPick'] | { mode: 'open'; path: string };

/** The part of Electron's `shell` module used here: openPath resolves with '' or the reason it failed. */
export interface ShellModule {
  openPath(path: string): Promise<string>;
}

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

/**
 * Main process: shows the dialog a request asks for (null when the person cancels); an 'open' request opens
 * its folder with the shell and answers the path, or throws the shell's reason.
 */
export async function answerDialog(
  dialog: DialogModule,
  win: unknown,
  req: DialogRequest,
  shell?: ShellModule,
): Promise<string | null> {
  if (req.mode === 'open') {
    if (!shell) throw new Error('no shell to open folders with');
    const why = await shell.openPath(req.path);
    if (why) throw new Error(why);
    return req.path;
  }
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
/** `error`: why main could not answer (an 'open' the shell refused); path is then null. */
export type DialogAnswer = { type: 'dialog-result'; id: number; path: string | null; error?: string };

/** Main process: the answer to a request, its failure included (main never leaves the backend waiting). */
export async function answerAsk(
  m: DialogAsk,
  dialog: DialogModule,
  shell: ShellModule,
  win: unknown,
): Promise<DialogAnswer> {
  try {
    return { type: 'dialog-result', id: m.id, path: await answerDialog(dialog, win, m.req, shell) };
  } catch (e) {
    return { type: 'dialog-result', id: m.id, path: null, error: (e as Error).message };
  }
}

/** Backend process: dialogs answered by main; `answer` is fed main's replies. */
export function relayedDialogs(
  post: (m: DialogAsk) => void,
): NativeDialogs & { answer(m: DialogAnswer): void } {
  let next = 1;
  const waiting = new Map<number, (a: DialogAnswer) => void>();
  const ask = (req: DialogRequest) =>
    new Promise<DialogAnswer>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      post({ type: 'dialog', id, req });
    });
  return {
    pick: async (req) => (await ask(req)).path,
    async open(p) {
      const a = await ask({ mode: 'open', path: p });
      return a.error ?? '';
    },
    answer(m) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    },
  };
}
