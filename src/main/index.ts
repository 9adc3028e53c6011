// Electron entry: thin. Window (with its saved bounds), menu, single-instance lock, API keys through
// safeStorage, and a graceful quit. The service root, the router and every long job live in a backend
// utilityProcess (src/main/api/backend-process.ts); this process only relays the windows' API messages to it,
// so nothing heavy ever runs on Electron's main thread. The backend runs the same code as the CLI and `serve`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  type Rectangle,
  safeStorage,
  screen,
  session,
  shell,
  type UtilityProcess,
  utilityProcess,
  webContents,
} from 'electron';
import { IPC_CHANNEL, isIpcRequest } from '../shared/contract-ipc';
import type { FromBackend, ToBackend } from './api/backend-process';
import { answerAsk } from './dialogs';
import { resolveHome } from './paths';

// The bundle is an ES module ("type": "module"): no __dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const RENDERER_HTML = path.join(here, '../renderer/index.html');
const DEV_URL = process.env.ELECTRON_RENDERER_URL;

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

let backend: UtilityProcess | undefined;
let home = resolveHome();
let mainWindow: BrowserWindow | undefined;
let quitting = false;
const toBackend = (m: ToBackend) => backend?.postMessage(m);

// API keys sealed with the OS keychain in <workspace>/secrets.json; the backend gets them in memory.
const secretsFile = () => path.join(home, 'secrets.json');
function readSecrets(): Record<string, string> {
  if (!safeStorage.isEncryptionAvailable()) return {};
  try {
    const sealed = JSON.parse(fs.readFileSync(secretsFile(), 'utf8')) as Record<string, string>;
    return Object.fromEntries(
      Object.entries(sealed).map(([k, v]) => [k, safeStorage.decryptString(Buffer.from(v, 'base64'))]),
    );
  } catch {
    return {};
  }
}
function writeSecret(name: string, value: string | null) {
  if (!safeStorage.isEncryptionAvailable()) return; // kept for this session only
  let sealed: Record<string, string> = {};
  try {
    sealed = JSON.parse(fs.readFileSync(secretsFile(), 'utf8'));
  } catch {}
  if (value === null) delete sealed[name];
  else sealed[name] = safeStorage.encryptString(value).toString('base64');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(secretsFile(), JSON.stringify(sealed), { mode: 0o600 });
}

/** Starts the backend process (run from source through tsx, like the CLI). */
function startBackend(): Promise<void> {
  const entry = path.join(app.getAppPath(), 'src/main/api/backend-entry.mjs');
  backend = utilityProcess.fork(entry, [], { serviceName: 'Embedsmith backend', stdio: 'inherit' });
  const b = backend;
  return new Promise((resolve, reject) => {
    b.on('message', (m: FromBackend) => {
      if (m.type === 'ready') {
        home = m.home;
        resolve();
      } else if (m.type === 'fatal') reject(new Error(m.message));
      else if (m.type === 'reply') {
        const wc = webContents.fromId(m.conn);
        if (wc && !wc.isDestroyed()) wc.send(IPC_CHANNEL, m.msg);
      } else if (m.type === 'secret') writeSecret(m.name, m.value);
      else if (m.type === 'dialog')
        // Dialogs and "open folder" (shell.openPath): failures come back as the answer's error.
        void answerAsk(m, dialog, shell, BrowserWindow.getFocusedWindow() ?? mainWindow).then(toBackend);
    });
    b.once('exit', (code) => {
      backend = undefined;
      if (!quitting) {
        dialog.showErrorBox(
          'Embedsmith backend stopped',
          `The backend process exited (code ${code}). Restart Embedsmith; if it happens again, run \`embedsmith serve\` in a terminal to see the error.`,
        );
        app.quit();
      }
      reject(new Error(`backend exited with code ${code}`));
    });
    b.postMessage({ type: 'init', home, secrets: readSecrets() } satisfies ToBackend);
  });
}

// Window state: bounds and maximised flag, restored only when still on a connected display.
const stateFile = () => path.join(app.getPath('userData'), 'window-state.json');
function loadBounds(): { bounds?: Rectangle; maximized?: boolean } {
  try {
    const s = JSON.parse(fs.readFileSync(stateFile(), 'utf8'));
    const onScreen = screen.getAllDisplays().some((d) => {
      const a = d.workArea;
      return (
        s.bounds.x < a.x + a.width &&
        s.bounds.x + s.bounds.width > a.x &&
        s.bounds.y < a.y + a.height &&
        s.bounds.y + s.bounds.height > a.y
      );
    });
    return onScreen ? s : {};
  } catch {
    return {};
  }
}
function saveBounds(win: BrowserWindow) {
  try {
    fs.writeFileSync(
      stateFile(),
      JSON.stringify({ bounds: win.getNormalBounds(), maximized: win.isMaximized() }),
    );
  } catch {}
}

/** Only our own page may call the API: the packaged file or the dev server. */
function isAppUrl(url: string): boolean {
  if (DEV_URL && url.startsWith(DEV_URL)) return true;
  return url.startsWith(pathToFileURL(path.dirname(RENDERER_HTML)).href);
}

function createWindow(): BrowserWindow {
  const saved = loadBounds();
  const win = new BrowserWindow({
    width: saved.bounds?.width ?? 1400,
    height: saved.bounds?.height ?? 900,
    x: saved.bounds?.x,
    y: saved.bounds?.y,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Embedsmith',
    webPreferences: {
      preload: path.join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  if (saved.maximized) win.maximize();
  win.on('ready-to-show', () => win.show());
  win.on('close', () => saveBounds(win));
  // No new windows and no navigation away from the app; http(s) links open in the system browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:/.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (!isAppUrl(url)) e.preventDefault();
  });
  win.webContents.on('will-attach-webview', (e) => e.preventDefault());
  if (DEV_URL) void win.loadURL(DEV_URL);
  else void win.loadFile(RENDERER_HTML);
  return win;
}

function buildMenu() {
  const isMac = process.platform === 'darwin';
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      ...(isMac ? [{ role: 'appMenu' as const }] : []),
      { role: 'fileMenu' },
      { role: 'editMenu' },
      {
        label: 'View',
        submenu: [
          { role: 'reload' },
          ...(app.isPackaged ? [] : [{ role: 'toggleDevTools' as const }]),
          { type: 'separator' },
          { role: 'resetZoom' },
          { role: 'zoomIn' },
          { role: 'zoomOut' },
          { type: 'separator' },
          { role: 'togglefullscreen' },
        ],
      },
      { role: 'windowMenu' },
      {
        role: 'help',
        submenu: [
          {
            label: 'Open workspace folder',
            click: () => void shell.openPath(home),
          },
        ],
      },
    ]),
  );
}

if (!app.requestSingleInstanceLock()) app.quit();
else {
  app.on('second-instance', () => {
    if (mainWindow?.isMinimized()) mainWindow.restore();
    mainWindow?.focus();
  });

  app.whenReady().then(async () => {
    // Strict CSP on every response (the page's meta tag covers file://, this covers the dev server).
    session.defaultSession.webRequest.onHeadersReceived((d, cb) =>
      cb({ responseHeaders: { ...d.responseHeaders, 'Content-Security-Policy': [CSP] } }),
    );
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    // Window → backend: only API calls from the app's own page, shape-checked (the router validates input).
    ipcMain.on(IPC_CHANNEL, (event, msg) => {
      if (!isAppUrl(event.senderFrame?.url ?? '') || !isIpcRequest(msg)) return;
      toBackend({ type: 'call', conn: event.sender.id, msg });
    });
    buildMenu();
    try {
      await startBackend();
    } catch (e) {
      dialog.showErrorBox('Embedsmith could not start', (e as Error).message);
      app.quit();
      return;
    }
    mainWindow = createWindow();
    const id = mainWindow.webContents.id;
    mainWindow.webContents.on('destroyed', () => toBackend({ type: 'close', conn: id }));
  });

  app.on('window-all-closed', () => app.quit());
  // Graceful quit: the backend closes the database (running jobs stop with it), then the app exits.
  app.on('before-quit', (e) => {
    if (quitting || !backend) return;
    e.preventDefault();
    quitting = true;
    const b = backend;
    const done = () => app.quit();
    b.once('exit', done);
    toBackend({ type: 'quit' });
    setTimeout(() => {
      b.kill();
      done();
    }, 5000).unref();
  });
}
