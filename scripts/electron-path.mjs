// Where the Electron binary is, or null with the reason (it is an optional download: `allowScripts`
// keeps electron's postinstall off, so CI machines and GPU boxes usually have none).
import fs from 'node:fs';
import { createRequire } from 'node:module';

export function electronBinary() {
  const require = createRequire(import.meta.url);
  try {
    const p = require('electron');
    if (typeof p === 'string' && fs.existsSync(p)) return { path: p, reason: null };
    return { path: null, reason: `the Electron binary ${p} is missing` };
  } catch (e) {
    return {
      path: null,
      reason: `no Electron binary is installed (${e.message.split('\n')[0]}); run \`node node_modules/electron/install.js\` to download it`,
    };
  }
}
