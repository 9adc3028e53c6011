#!/usr/bin/env node
// `npm start`: the desktop app when an Electron binary is installed; otherwise browser mode
// (`embedsmith serve`), printing the URL to open. Extra arguments go to `serve` (e.g. --home, --port).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { electronBinary } from './electron-path.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const { path: electron, reason } = electronBinary();

function run(cmd, argv, env = process.env) {
  const child = spawn(cmd, argv, { cwd: root, stdio: 'inherit', env });
  const forward = (sig) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
}

if (electron) {
  if (!fs.existsSync(path.join(root, 'out/main/index.js'))) {
    console.error('building the app (electron-vite build) …');
    const b = spawnSync(
      process.execPath,
      [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
    if (b.status !== 0) process.exit(b.status ?? 1);
  }
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  run(electron, ['.', ...args], env);
} else {
  console.error(`${reason}.\nStarting browser mode instead (embedsmith serve); open the URL below.`);
  run(process.execPath, [path.join(root, 'bin/embedsmith.mjs'), 'serve', ...args]);
}
