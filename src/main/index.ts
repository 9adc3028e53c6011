// Electron entry: thin. Window (with its saved bounds), menu, single-instance lock, the service root, the
// contract on IPC, and a graceful quit. Everything it serves lives in Electron-free modules (src/main/api)
// so the CLI and `serve` run the same code.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, Menu, type Rectangle, safeStorage, screen, session, shell } from 'electron';
import { createIPCHandler } from 'trpc-electron/main';
import { createApi } from './api';
import { createSecretStore } from './api/secrets';
import { openWorkbench, type Workbench } from './workbench';

// The bundle is an ES module ("type": "module"): no __dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const RENDERER_HTML = path.join(here, '../renderer/index.html');
const DEV_URL = process.env.ELECTRON_RENDERER_URL;

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

let workbench: Workbench | undefined;
let mainWindow: BrowserWindow | undefined;

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
            click: () => workbench && void shell.openPath(workbench.paths.home),
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

  app.whenReady().then(() => {
    // Strict CSP on every response (the page's meta tag covers file://, this covers the dev server).
    session.defaultSession.webRequest.onHeadersReceived((d, cb) =>
      cb({ responseHeaders: { ...d.responseHeaders, 'Content-Security-Policy': [CSP] } }),
    );
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    workbench = openWorkbench();
    // API keys are encrypted with the OS keychain (safeStorage); they never reach the database or renderer.
    const secrets = createSecretStore(path.join(workbench.paths.home, 'secrets.json'), {
      available: () => safeStorage.isEncryptionAvailable(),
      encrypt: (s) => safeStorage.encryptString(s),
      decrypt: (b) => safeStorage.decryptString(b),
    });
    const api = createApi(workbench, { transport: 'ipc', secrets });
    buildMenu();
    mainWindow = createWindow();
    createIPCHandler({
      router: api.router,
      windows: [mainWindow],
      createContext: async ({ event }) => {
        if (!isAppUrl(event.senderFrame?.url ?? ''))
          throw new Error('API call from a page that is not the app');
        return api.createContext();
      },
    });
  });

  app.on('window-all-closed', () => app.quit());
  let closing = false;
  app.on('before-quit', (e) => {
    if (closing || !workbench) return;
    // Give running jobs a moment to stop cleanly, then close the database.
    e.preventDefault();
    closing = true;
    const wb = workbench;
    workbench = undefined;
    Promise.resolve()
      .then(() => wb.close())
      .finally(() => app.quit());
  });
}
