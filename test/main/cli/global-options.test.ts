// Global options (--home, --json) before or after the subcommand, as git / docker / kubectl users type them.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hoistGlobalOptions, main } from '../../../src/main/cli/index';
import { tmpDir } from '../../helpers/tmp';

let stdout = '';
let stderr = '';
beforeEach(() => {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('global options', () => {
  it.each([
    [['--home', 'H', '--json', 'datasets', 'list']],
    [['--json', '--home=H', 'datasets', 'list']],
    [['datasets', 'list', '--home', 'H', '--json']],
    [['--home', 'H', 'datasets', '--json', 'list']],
  ])('%j opens that workspace and prints one JSON document', async (argv) => {
    const home = path.join(tmpDir(), 'ws');
    const args = argv.map((a) => a.replace(/^H$/, home).replace(/^--home=H$/, `--home=${home}`));
    expect(await main(args), stderr).toBe(0);
    expect(Array.isArray(JSON.parse(stdout)) || typeof JSON.parse(stdout) === 'object').toBe(true);
    expect(fs.existsSync(path.join(home, 'embedsmith.db'))).toBe(true);
  });

  it('moves globals behind the command, keeps everything after `--` in place', () => {
    expect(hoistGlobalOptions(['--home', 'h', 'eval', 'compare', 'a'])).toEqual([
      'eval',
      'compare',
      'a',
      '--home',
      'h',
    ]);
    expect(hoistGlobalOptions(['--json', 'x', '--', '--json'])).toEqual(['x', '--json', '--', '--json']);
    expect(hoistGlobalOptions(['--version'])).toEqual(['--version']);
    expect(hoistGlobalOptions(['datasets', '--home', 'h', 'list'])).toEqual([
      'datasets',
      'list',
      '--home',
      'h',
    ]);
  });

  it('an unknown option before the subcommand is still a usage error', async () => {
    expect(await main(['--homme', 'x', 'datasets', 'list'])).toBe(2);
  });
});
