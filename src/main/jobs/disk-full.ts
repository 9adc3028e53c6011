import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';

/** A write that failed because the disk (or the database's size limit) is full. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

const mb = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`);

/** Free bytes for unprivileged writers on the file system holding `target` (its nearest existing folder). */
export function freeBytes(target: string): number | null {
  let dir = path.resolve(target);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/**
 * The one-line error for a full disk: the path written, what it needed and what is free, and that what
 * was written before is intact. Null when `e` is another error (the caller rethrows it).
 */
export function diskFullError(
  e: unknown,
  target: string,
  neededBytes: number | null,
  then: string,
): UserError | null {
  if (!isDiskFull(e)) return null;
  const code = (e as { code: string }).code;
  const free = freeBytes(target);
  const need = neededBytes !== null ? `needs about ${mb(neededBytes)}` : 'needs more space';
  const what = code === 'SQLITE_FULL' ? 'the database is full' : 'no space left on the device';
  return new UserError(
    `${target}: ${what} (${code}); ${need}${free !== null ? `, ${mb(free)} free there` : ''}; free some space, then ${then}`,
  );
}
