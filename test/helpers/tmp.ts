import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temp directory, removed after the current test. */
export function tmpDir(prefix = 'embedsmith-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures');
/** ../shared/datasets when present (CI has it); tests that need it skip with the reason otherwise. */
export const SHARED_DATASETS = path.resolve(REPO_ROOT, '../shared/datasets');
export const hasSharedDatasets = fs.existsSync(SHARED_DATASETS);
// Tests that read real public datasets skip without them; say so instead of skipping silently.
if (!hasSharedDatasets)
  console.warn(`skipping the tests that read ${SHARED_DATASETS}: it is missing (CI has it beside the clone)`);
