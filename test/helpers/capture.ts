import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Collects what the CLI writes to stdout and stderr during each test of the calling file (the writes are
 * swallowed); read `out.stdout` / `out.stderr` inside a test.
 */
export function captureOutput(): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  beforeEach(() => {
    out.stdout = '';
    out.stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.stdout += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      out.stderr += String(s);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return out;
}
