// Electron smoke test through playwright-core's _electron launcher. Electron's binary is an optional
// download (package.json allowScripts keeps its postinstall off), so this skips, with the reason, where
// there is none.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM helper shared with scripts/start.mjs
import { electronBinary } from '../../scripts/electron-path.mjs';
import { REPO_ROOT } from '../helpers/tmp';

const bin = electronBinary() as { path: string | null; reason: string | null };
const title = bin.path ? 'Electron app (smoke)' : `Electron app (smoke) — skipped: ${bin.reason}`;
if (!bin.path) console.warn(`[electron smoke] skipped: ${bin.reason}`);

describe.skipIf(!bin.path)(title, () => {
  it('opens the window with a sandboxed, bridge-only renderer and answers the API over IPC', async () => {
    const build = spawnSync(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    expect(build.status, build.stderr).toBe(0);
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'embedsmith-electron-'));
    const app = await _electron.launch({
      executablePath: bin.path!,
      args: [REPO_ROOT, '--no-sandbox'],
      env: { ...process.env, EMBEDSMITH_HOME: home, ELECTRON_RUN_AS_NODE: '' },
    });
    try {
      const win = await app.firstWindow();
      await win.locator('h1', { hasText: /^Datasets/ }).waitFor({ timeout: 30_000 });
      const globals = await win.evaluate(() => ({
        bridge: typeof (globalThis as unknown as { embedsmith?: unknown }).embedsmith,
        require: typeof (globalThis as unknown as { require?: unknown }).require,
        process: typeof (globalThis as unknown as { process?: unknown }).process,
      }));
      expect(globals).toEqual({ bridge: 'object', require: 'undefined', process: 'undefined' });
      await win.getByLabel('new dataset name').fill('from-electron');
      await win.getByRole('button', { name: 'Create dataset' }).click();
      await win.getByTestId('datasets-table').getByText('from-electron').waitFor();
      // The bridge refuses anything that is not an API call.
      const refused = await win.evaluate(() => {
        try {
          (
            globalThis as unknown as { embedsmith: { ipc: { sendMessage(m: unknown): void } } }
          ).embedsmith.ipc.sendMessage({
            method: 'shell',
            cmd: 'rm -rf /',
          });
          return false;
        } catch {
          return true;
        }
      });
      expect(refused).toBe(true);
      fs.mkdirSync(path.join(REPO_ROOT, 'test-output/screens'), { recursive: true });
      await win.screenshot({ path: path.join(REPO_ROOT, 'test-output/screens/electron.png') });
    } finally {
      await app.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  }, 120_000);
});
