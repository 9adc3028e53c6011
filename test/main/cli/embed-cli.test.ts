import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/main/models/io';
import { EmbeddingModel } from '../../../src/main/models/model';
import { FIXTURES, REPO_ROOT, tmpDir } from '../../helpers/tmp';
import { hubServer, SHA } from '../models/hub-server';

const BIN = path.join(REPO_ROOT, 'bin/embedsmith.mjs');
const PARITY = path.join(FIXTURES, 'parity');
const TEXTS = [
  'the cat sat on the mat',
  'hello world',
  'The zzz',
  'a much longer text with many of the common words in it',
];

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Async form, for commands that talk to a server living in this process. */
function cliAsync(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
};

describe('embedsmith embed', () => {
  it.each(['mistral', 'qwen2', 'bert'])('%s: .txt → .npy end to end, as the library embeds', async (name) => {
    const home = tmpDir();
    const input = path.join(home, 'in.txt');
    fs.writeFileSync(input, `${TEXTS.join('\n')}\n`);
    const out = path.join(home, 'out.npy');
    const r = cli([
      'embed',
      '--home',
      home,
      '--model',
      path.join(PARITY, name),
      '--input',
      input,
      '--role',
      'query',
      '--instruction',
      'find the cat',
      '--out',
      out,
      '--batch-size',
      '3',
      '--device',
      'cpu',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      count: 4,
      dim: 64,
      modelType: name,
      normalized: true,
      pooling: name === 'bert' ? 'mean' : 'last_token',
    });
    const npy = readNpy(out);
    expect(npy.shape).toEqual([4, 64]);
    for (let i = 0; i < 4; i++)
      expect(Math.hypot(...npy.data.subarray(i * 64, (i + 1) * 64))).toBeCloseTo(1, 5);
    const model = EmbeddingModel.load(path.join(PARITY, name), { inThread: true });
    const ref = await model.embed(TEXTS, { role: 'query', instruction: 'find the cat' });
    expect(maxDiff(npy.data, ref)).toBeLessThan(1e-6);
    // The instruction template reached the model: documents embed differently.
    expect(maxDiff(await model.embed(TEXTS, { role: 'document' }), ref)).toBeGreaterThan(1e-3);
    await model.dispose();
  });

  it('with an adapter, .jsonl in → .jsonl and .parquet out', async () => {
    const home = tmpDir();
    const input = path.join(home, 'in.jsonl');
    fs.writeFileSync(
      input,
      `${TEXTS.map((t, i) => JSON.stringify(i % 2 ? t : { text: t, id: i })).join('\n')}\n`,
    );
    const dir = path.join(PARITY, 'bert');
    const model = EmbeddingModel.load(dir, { inThread: true });
    const ref = await model.embed(TEXTS, { adapter: model.loadAdapter(path.join(dir, 'adapter')) });
    await model.dispose();
    for (const ext of ['.jsonl', '.parquet']) {
      const out = path.join(home, `out${ext}`);
      const r = cli([
        'embed',
        '--home',
        home,
        '--model',
        dir,
        '--adapter',
        path.join(dir, 'adapter'),
        '--input',
        input,
        '--out',
        out,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const rows: { text: string; embedding: number[] }[] =
        ext === '.jsonl'
          ? fs
              .readFileSync(out, 'utf8')
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l))
          : ((await parquetReadObjects({ file: fs.readFileSync(out).buffer as ArrayBuffer })) as never);
      expect(rows.map((x) => x.text)).toEqual(TEXTS);
      expect(
        maxDiff(
          rows.flatMap((x) => Array.from(x.embedding)),
          ref,
        ),
      ).toBeLessThan(1e-6);
    }
  });

  it('usage errors exit 2, unreadable models exit 1 naming the problem', () => {
    const home = tmpDir();
    const input = path.join(home, 'in.txt');
    fs.writeFileSync(input, 'x\n');
    const m = path.join(PARITY, 'bert');
    expect(
      cli(['embed', '--home', home, '--model', m, '--input', input, '--out', path.join(home, 'o.csv')]).code,
    ).toBe(2);
    const broken = path.join(home, 'broken');
    fs.mkdirSync(broken);
    fs.copyFileSync(path.join(m, 'config.json'), path.join(broken, 'config.json'));
    const r = cli([
      'embed',
      '--home',
      home,
      '--model',
      broken,
      '--input',
      input,
      '--out',
      path.join(home, 'o.npy'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: .*no model\.safetensors or model\.safetensors\.index\.json/);
  });

  it('models pull / list / remove through a hub endpoint, then embed by id', async () => {
    const hub = await hubServer();
    try {
      const home = tmpDir();
      const pull = await cliAsync([
        'models',
        'pull',
        'acme/tiny-bert',
        '--revision',
        'main',
        '--endpoint',
        hub.url,
        '--home',
        home,
        '--json',
      ]);
      expect(pull.code, pull.stderr).toBe(0);
      expect(JSON.parse(pull.stdout).model).toMatchObject({ id: 'acme/tiny-bert', sha: SHA });
      const list = cli(['models', 'list', '--home', home, '--json']);
      expect(JSON.parse(list.stdout).models.map((m: { id: string }) => m.id)).toEqual(['acme/tiny-bert']);
      const input = path.join(home, 'in.txt');
      fs.writeFileSync(input, 'the cat\n');
      const emb = cli([
        'embed',
        '--home',
        home,
        '--model',
        'acme/tiny-bert',
        '--input',
        input,
        '--out',
        path.join(home, 'o.npy'),
        '--json',
      ]);
      expect(emb.code, emb.stderr).toBe(0);
      expect(cli(['models', 'remove', 'acme/tiny-bert', '--home', home]).code).toBe(0);
      expect(JSON.parse(cli(['models', 'list', '--home', home, '--json']).stdout)).toEqual({ models: [] });
    } finally {
      await hub.close();
    }
  });
});
