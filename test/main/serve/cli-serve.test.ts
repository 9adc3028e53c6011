// `embedsmith serve` as a user runs it: the printed URL, the token, the loopback default, the warning for
// another host, and a clean stop on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, tmpDir } from '../../helpers/tmp';

const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

function serve(args: string[]) {
  const p = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/embedsmith.mjs'), 'serve', '--no-build', '--port', '0', ...args],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  procs.push(p);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => {
    out += d;
  });
  p.stderr!.on('data', (d) => {
    err += d;
  });
  const url = new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /^(http:\/\/\S+\?token=\S+)$/m.exec(out);
      if (m) {
        clearInterval(t);
        resolve(m[1]);
      }
    }, 50);
    p.on('exit', (code) => {
      clearInterval(t);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
  return { p, url, stderr: () => err };
}

describe('embedsmith serve (CLI)', () => {
  it('prints a loopback URL with a token, refuses requests without it, stops on SIGTERM', async () => {
    const s = serve(['--home', tmpDir()]);
    const url = await s.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
    expect(s.stderr()).not.toMatch(/warning/);
    const base = url.replace(/\/\?token=.*/, '');
    const token = url.replace(/.*token=/, '');
    expect((await fetch(`${base}/trpc/datasets.list`)).status).toBe(401);
    const ok = await fetch(`${base}/trpc/datasets.list`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const exited = new Promise<number | null>((r) => s.p.on('exit', (c) => r(c)));
    s.p.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('warns when asked to listen beyond loopback', async () => {
    const s = serve(['--home', tmpDir(), '--host', '0.0.0.0']);
    await s.url;
    expect(s.stderr()).toMatch(
      /warning: binding 0\.0\.0\.0 makes the workbench reachable from other machines/,
    );
  });

  it('says what to do with a bad port', async () => {
    const s = serve(['--home', tmpDir(), '--port', 'abc']);
    await expect(s.url).rejects.toThrow(/--port abc is not a port number/);
  });
});
