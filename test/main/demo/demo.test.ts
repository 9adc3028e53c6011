import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli/index';
import { DEMO_MODEL_NAME, type DemoResult, demoWeights, ensureDemoModel } from '../../../src/main/demo';
import { readResultFiles } from '../../../src/main/eval/results';
import { JobRegistry } from '../../../src/main/jobs/registry';
import { llamaConfig, llamaLinears } from '../../../src/main/models/configs';
import { readNpy } from '../../../src/main/models/io';
import { loadAdapter } from '../../../src/main/models/lora';
import { EmbeddingModel } from '../../../src/main/models/model';
import { readStHeader } from '../../../src/main/models/safetensors';
import { Store } from '../../../src/main/store';
import { startLlmServer } from '../../helpers/llm-server';
import { hasSharedDatasets, REPO_ROOT, SHARED_DATASETS, tmpDir } from '../../helpers/tmp';

const STS_TEST = path.join(SHARED_DATASETS, 'stsbenchmark/original/sts-test.csv');

describe('demo model: generated from a seed, no download', () => {
  it('is deterministic, llama-shaped with HF names, and loads with the Llama-2 tokenizer', async () => {
    const cfg = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'resources/models/demo-llama/config.json'), 'utf8'),
    );
    expect(cfg.model_type).toBe('llama');
    expect(cfg.vocab_size).toBe(32000);
    const a = demoWeights(cfg, 7);
    const b = demoWeights(cfg, 7);
    const c = demoWeights(cfg, 8);
    const q = 'layers.1.self_attn.q_proj.weight';
    expect(Buffer.from(a.get(q)!.data.buffer).equals(Buffer.from(b.get(q)!.data.buffer))).toBe(true);
    expect(Buffer.from(a.get(q)!.data.buffer).equals(Buffer.from(c.get(q)!.data.buffer))).toBe(false);

    const dir = tmpDir();
    const m = ensureDemoModel(dir);
    expect(m.created).toBe(true);
    expect(ensureDemoModel(dir).created).toBe(false);
    expect(path.basename(m.dir)).toBe(DEMO_MODEL_NAME);
    const h = readStHeader(path.join(m.dir, 'model.safetensors'));
    expect(h.tensors.get('embed_tokens.weight')?.shape).toEqual([32000, cfg.hidden_size]);
    expect(h.tensors.has('layers.0.mlp.down_proj.weight')).toBe(true);
    const model = EmbeddingModel.load(m.dir, { device: 'cpu', inThread: true });
    try {
      expect(model.pooling).toBe('last_token');
      expect(model.tokenizer.encode('Hello world').length).toBeGreaterThan(2);
      // The bag-of-tokens start: shared words make texts closer than unrelated ones.
      const e = await model.embed([
        'a lamp for reading in bed',
        'reading lamp next to the bed',
        'stock markets fell',
      ]);
      const dot = (i: number, j: number) => {
        let s = 0;
        for (let k = 0; k < model.dim; k++) s += e[i * model.dim + k] * e[j * model.dim + k];
        return s;
      };
      expect(dot(0, 1)).toBeGreaterThan(dot(0, 2));
    } finally {
      await model.dispose();
    }
  });
});

describe('embedsmith demo (reduced steps)', () => {
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

  it('imports, splits, trains, evaluates base vs adapter and exports loadable artefacts', async () => {
    const home = tmpDir();
    const extra =
      hasSharedDatasets && fs.existsSync(STS_TEST)
        ? ['--eval', `sts:${STS_TEST}`, '--eval-limit', '100']
        : [];
    if (!extra.length)
      console.warn(
        `demo test: ${STS_TEST} not found, so the public-set evaluation (--eval sts:…) is not exercised`,
      );
    // The workspace from EMBEDSMITH_HOME (as every command takes it), --json before the subcommand.
    const saved = process.env.EMBEDSMITH_HOME;
    process.env.EMBEDSMITH_HOME = home;
    let code: number;
    try {
      code = await main(['--json', 'demo', '--steps', '6', ...extra]);
    } finally {
      if (saved === undefined) delete process.env.EMBEDSMITH_HOME;
      else process.env.EMBEDSMITH_HOME = saved;
    }
    if (code !== 0) throw new Error(`demo exited ${code}: ${stderr.slice(-2000)}`);
    const r = JSON.parse(stdout) as DemoResult & { totalSeconds: number };
    expect(r.home).toBe(home);
    expect(fs.existsSync(path.join(home, 'embedsmith.db'))).toBe(true);

    // Stages reported progress on stderr; stdout is one JSON document.
    for (const s of ['model', 'import', 'split', 'train', 'eval', 'export'])
      expect(stderr).toContain(`== ${s}:`);
    expect(r.dataset.imported).toBe(338);
    expect(r.dataset.bySplit.train + r.dataset.bySplit.dev + r.dataset.bySplit.test).toBe(330);
    const total = r.distribution.rows.reduce((s, x) => s + x.total, 0);
    expect(total).toBe(330);
    expect(r.distribution.languages).toHaveLength(13);
    expect(r.training.steps).toBe(6);

    // Adapter: the project's PEFT loader reads it for the demo model's linears, and the model applies it.
    const cfg = JSON.parse(fs.readFileSync(path.join(r.files.model, 'config.json'), 'utf8'));
    const lw = loadAdapter(r.files.adapter, llamaLinears(llamaConfig(cfg)));
    expect(lw.modules.length).toBeGreaterThan(0);
    expect(lw.tensors.size).toBe(2 * lw.modules.length);
    const peft = JSON.parse(fs.readFileSync(path.join(r.files.adapter, 'adapter_config.json'), 'utf8'));
    expect(peft.peft_type).toBe('LORA');
    // … and changes what the demo model embeds (LoRA B starts at zero, so any change came from training).
    const model = EmbeddingModel.load(r.files.model, { device: 'cpu', inThread: true });
    try {
      const text = ['Given a question, retrieve passages that answer it'];
      const base = await model.embed(text);
      const tuned = await model.embed(text, { adapter: model.loadAdapter(r.files.adapter) });
      expect(base.length).toBe(cfg.hidden_size);
      expect(Math.max(...base.map((v, i) => Math.abs(v - tuned[i])))).toBeGreaterThan(1e-5);
    } finally {
      await model.dispose();
    }

    // Embeddings: [rows of the index, hidden], unit length (the model normalises).
    const npy = readNpy(r.files.embeddings);
    const index = fs.readFileSync(r.files.embeddingsIndex, 'utf8').trim().split('\n');
    expect(npy.shape).toEqual([index.length, cfg.hidden_size]);
    expect(index.length).toBeGreaterThanOrEqual(2 * r.dataset.bySplit.test);
    const row0 = npy.data.subarray(0, cfg.hidden_size);
    expect(Math.hypot(...row0)).toBeCloseTo(1, 3);

    // Results: the summary JSON matches stdout; MTEB files for base and adapter read back.
    const summary = JSON.parse(fs.readFileSync(r.files.summary, 'utf8')) as DemoResult;
    expect(summary.evaluation).toEqual(r.evaluation);
    const entries = readResultFiles([r.files.results]);
    const tasks = r.evaluation.tasks.map((t) => t.task);
    expect(tasks).toContain('demo-retrieval');
    for (const t of tasks) expect(entries.filter((e) => e.task === t)).toHaveLength(2);
    for (const t of r.evaluation.tasks) {
      expect(Number.isFinite(t.base) && Number.isFinite(t.adapter)).toBe(true);
      expect(t.delta).toBeCloseTo(t.adapter - t.base, 10);
    }
    if (extra.length)
      expect(r.evaluation.tasks.some((t) => t.type === 'STS' && t.source.includes('sts-test'))).toBe(true);
    expect(fs.readFileSync(r.files.dataset, 'utf8').trim().split('\n')).toHaveLength(338);

    // The demo is one job of the registry, done with its summary; its training run is a job of its own.
    const store = Store.open(path.join(home, 'embedsmith.db'));
    try {
      const jobs = JobRegistry.over(store.db).list();
      expect(jobs.map((j) => `${j.type} ${j.state}`).sort()).toEqual(['demo done', 'training done']);
      expect(jobs.find((j) => j.type === 'demo')?.result).toEqual({
        steps: 6,
        averageBase: r.evaluation.averageBase,
        averageAdapter: r.evaluation.averageAdapter,
        out: r.files.summary,
      });
    } finally {
      store.close();
    }
  }, 120_000);

  it('with --base-url it first generates examples live and trains on them too', async () => {
    const server = await startLlmServer();
    try {
      const home = tmpDir();
      const code = await main([
        'demo',
        '--home',
        home,
        '--base-url',
        server.url,
        '--models',
        'local-llm=1',
        '--count',
        '12',
        '--steps',
        '1',
        '--json',
      ]);
      if (code !== 0) throw new Error(`demo exited ${code}: ${stderr.slice(-2000)}`);
      const r = JSON.parse(stdout) as DemoResult;
      expect(server.calls.length).toBeGreaterThan(0);
      expect(r.dataset.generated).toBe(12);
      const split = r.dataset.bySplit;
      expect(split.train + split.dev + split.test).toBe(330 + 12);
      expect(stderr).toContain('== generate:');
    } finally {
      await server.close();
    }
  }, 120_000);

  it('a bad --eval path fails before any work, naming the file', async () => {
    const home = tmpDir();
    // --home before the subcommand (git / docker style) reaches the demo like --home after it.
    const code = await main(['--home', home, 'demo', '--eval', `sts:${path.join(home, 'nope.csv')}`]);
    expect(code).not.toBe(0);
    expect(stderr).toContain('nope.csv');
    expect(fs.existsSync(path.join(home, 'models'))).toBe(false);
  });
});
