import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors';
import { pidAlive } from '../jobs/store';

export { pidAlive };

/**
 * One training process per run folder: `<run>/.lock` holds the owner's pid. A second `train --out X` or
 * `--resume X` while the owner lives gets one line naming it; a lock whose pid is gone (kill -9, crash,
 * reboot) is stale and taken over.
 */
export const LOCK_FILE = '.lock';

interface Holder {
  pid: number;
  host: string;
  token: string;
  since: string;
}

export interface RunLock {
  release(): void;
}

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
    return typeof h?.pid === 'number' ? h : null;
  } catch {
    return null;
  }
}

const live = (h: Holder | null): h is Holder => h !== null && h.host === os.hostname() && pidAlive(h.pid);

/** The live process holding the run folder, or null (no lock, or a stale one). */
export function runLockHolder(runDir: string): { pid: number; since: string } | null {
  const h = readHolder(path.join(runDir, LOCK_FILE));
  return live(h) ? { pid: h.pid, since: h.since } : null;
}

const busy = (runDir: string, h: { pid: number; since: string }) =>
  new UserError(
    `${runDir}: run folder in use by another training process (pid ${h.pid}, since ${h.since}); wait for it to end or stop it, then retry`,
  );

/** Throws the one-line "in use" error when a live process holds the folder. */
export function assertRunDirFree(runDir: string): void {
  const h = runLockHolder(runDir);
  if (h) throw busy(runDir, h);
}

/**
 * Takes the run folder's lock. The lock file is written complete under a temp name and hard-linked into
 * place, so it never exists half-written and link() fails atomically when another process holds it.
 */
export function lockRunDir(runDir: string): RunLock {
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, LOCK_FILE);
  const me: Holder = {
    pid: process.pid,
    host: os.hostname(),
    token: randomUUID(),
    since: new Date().toISOString(),
  };
  const tmp = `${file}.${me.token}`;
  fs.writeFileSync(tmp, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
      }
      const h = readHolder(file);
      if (live(h)) throw busy(runDir, h);
      // Stale: move it aside under a unique name first, so two processes taking over the same stale lock
      // cannot delete each other's fresh one; put it back if it turned out to be live after all.
      const aside = `${file}.stale-${me.token}`;
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = readHolder(aside);
      if (live(moved)) {
        try {
          fs.linkSync(aside, file);
        } catch {}
        fs.rmSync(aside, { force: true });
        throw busy(runDir, moved);
      }
      fs.rmSync(aside, { force: true });
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (readHolder(file)?.token === me.token) fs.rmSync(file, { force: true });
    },
  };
}
