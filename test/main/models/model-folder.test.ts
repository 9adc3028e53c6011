import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { FIXTURES, REPO_ROOT, tmpDir } from '../../helpers/tmp';

// Broken model folders (issue #21 items 13-14): each is one line on stderr naming the file, never a stack
// trace, a hang or gigabytes of graph for layers that are not there.
const MISTRAL = path.join(FIXTURES, 'parity/mistral');
const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');

/** A private copy of the tiny mistral fixture, so each case can break one file. */
function modelCopy(): string {
  const dir = path.join(tmpDir(), 'model');
  fs.cpSync(MISTRAL, dir, { recursive: true });
  return dir;
}

function setConfig(dir: string, patch: Record<string, unknown>) {
  const f = path.join(dir, 'config.json');
  fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), ...patch }));
}

function inputFile(): string {
  const f = path.join(tmpDir(), 'in.txt');
  fs.writeFileSync(f, 'hello world\nthe cat\n');
  return f;
}

const embedArgs = (model: string, extra: string[] = []) => [
  'embed',
  '--home',
  tmpDir(),
  '--model',
  model,
  '--input',
  inputFile(),
  '--out',
  path.join(tmpDir(), 'out.npy'),
  '--device',
  'cpu',
  ...extra,
];

describe('model folders: one line naming the file (in-process CLI)', () => {
  let stderr = '';
  beforeEach(() => {
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      stderr += String(s);
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => vi.restoreAllMocks());

  const expectOneLine = (code: number, mention: RegExp) => {
    expect(code, stderr).toBeGreaterThan(0);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr.trim().split('\n').length, stderr).toBe(1);
    expect(stderr).toMatch(mention);
  };

  it('config.json = null', async () => {
    const dir = modelCopy();
    fs.writeFileSync(path.join(dir, 'config.json'), 'null');
    expectOneLine(await main(embedArgs(dir)), /config\.json.*null/);
  });

  it('model.safetensors that is a directory', async () => {
    const dir = modelCopy();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    fs.mkdirSync(path.join(dir, 'model.safetensors'));
    expectOneLine(await main(embedArgs(dir)), /model\.safetensors: not a regular file \(a directory\)/);
  });

  it('hidden_size 1e12', async () => {
    const dir = modelCopy();
    setConfig(dir, { hidden_size: 1e12 });
    expectOneLine(await main(embedArgs(dir)), /config\.json: hidden_size/);
  });

  it('num_attention_heads 0', async () => {
    const dir = modelCopy();
    setConfig(dir, { num_attention_heads: 0 });
    expectOneLine(await main(embedArgs(dir)), /config\.json: num_attention_heads must be a positive integer/);
  });

  it('num_hidden_layers that the tensors do not have', async () => {
    const dir = modelCopy();
    setConfig(dir, { num_hidden_layers: 3 });
    expectOneLine(await main(embedArgs(dir)), /config\.json: num_hidden_layers 3, but .* stores 2 layers/);
  });

  it.each([
    ['not JSON', '{"peft_type": "LORA",'],
    ['null', 'null'],
    ['r missing', '{"peft_type": "LORA", "lora_alpha": 8}'],
  ])('adapter_config.json %s', async (_name, text) => {
    const dir = modelCopy();
    const adapter = path.join(tmpDir(), 'adapter');
    fs.cpSync(path.join(MISTRAL, 'adapter'), adapter, { recursive: true });
    fs.writeFileSync(path.join(adapter, 'adapter_config.json'), text);
    expectOneLine(await main(embedArgs(dir, ['--adapter', adapter])), /adapter_config\.json/);
  });

  it('train --model with config.json = null', async () => {
    const dir = modelCopy();
    fs.writeFileSync(path.join(dir, 'config.json'), 'null');
    const home = tmpDir();
    const code = await main([
      'train',
      '--home',
      home,
      '--dataset',
      'none',
      '--model',
      dir,
      '--out',
      path.join(home, 'r'),
    ]);
    expect(code).toBeGreaterThan(0);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stderr.trim().split('\n').length, stderr).toBe(1);
  });
});

// These hung (a FIFO read blocks the thread; 1e8 layers build for minutes): a child process with a timeout,
// so the old code fails the test instead of hanging it.
describe('model folders that used to hang (child process with a timeout)', () => {
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      cwd: REPO_ROOT,
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    return { code: r.status, signal: r.signal, stderr: String(r.stderr) };
  };
  const expectOneLine = (r: ReturnType<typeof run>, mention: RegExp) => {
    expect(r.signal, 'the command hung and was killed').toBeNull();
    expect(r.code).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').length, r.stderr).toBe(1);
    expect(r.stderr).toMatch(mention);
  };

  it('num_hidden_layers 1e8', () => {
    const dir = modelCopy();
    setConfig(dir, { num_hidden_layers: 1e8 });
    expectOneLine(run(embedArgs(dir)), /config\.json: num_hidden_layers 100000000, but .* stores 2 layers/);
  }, 70_000);

  it('train --model with num_hidden_layers 1e8 (a dataset that does not exist is checked later)', () => {
    const dir = modelCopy();
    setConfig(dir, { num_hidden_layers: 1e8 });
    const home = tmpDir();
    expectOneLine(
      run(['train', '--home', home, '--dataset', 'syn', '--model', dir, '--out', path.join(home, 'r')]),
      /config\.json: num_hidden_layers 100000000, but .* stores 2 layers/,
    );
  }, 70_000);

  it.each(['model.safetensors', 'tokenizer.json'])(
    'a FIFO as %s',
    (file) => {
      const dir = modelCopy();
      fs.rmSync(path.join(dir, file));
      execFileSync('mkfifo', [path.join(dir, file)]);
      expectOneLine(
        run(embedArgs(dir)),
        new RegExp(`${file.replace('.', '\\.')}: not a regular file \\(a FIFO\\)`),
      );
    },
    70_000,
  );
});
