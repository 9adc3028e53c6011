import os from 'node:os';
import path from 'node:path';

/** Where the workspace lives: --home DIR, else EMBEDSMITH_HOME, else the OS app-data directory. */
export function resolveHome(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.EMBEDSMITH_HOME) return path.resolve(process.env.EMBEDSMITH_HOME);
  const platform = process.platform;
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'Embedsmith');
  if (platform === 'win32')
    return path.join(process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'Embedsmith');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'embedsmith');
}

/** The fixed layout inside a workspace. */
export function workspacePaths(home: string) {
  return {
    home,
    db: path.join(home, 'embedsmith.db'),
    models: path.join(home, 'models'),
    runs: path.join(home, 'runs'),
    exports: path.join(home, 'exports'),
    cache: path.join(home, 'cache'),
    results: path.join(home, 'results'),
    logs: path.join(home, 'logs'),
  };
}
export type WorkspacePaths = ReturnType<typeof workspacePaths>;
