// Electron entry: thin. Window with safe defaults, the service root, the contract wired to ipcMain.
// Everything it serves lives in Electron-free modules so the CLI and `serve` run the same code.
import path from 'node:path';
import { app, BrowserWindow, shell } from 'electron';
import { openWorkbench, type Workbench } from './workbench';

let workbench: Workbench | undefined;

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    show: false,
    title: 'Embedsmith',
    webPreferences: {
      preload: path.join(__dirname, '../preload/index.js'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  win.on('ready-to-show', () => win.show());
  // No new windows and no navigation away from the app; links open in the system browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:/.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL);
  else void win.loadFile(path.join(__dirname, '../renderer/index.html'));
  return win;
}

if (!app.requestSingleInstanceLock()) app.quit();
else {
  app.whenReady().then(() => {
    workbench = openWorkbench();
    createWindow();
  });
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
  app.on('window-all-closed', () => app.quit());
  app.on('will-quit', () => workbench?.close());
}
