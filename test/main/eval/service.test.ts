import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/main/cli';
import { CachedEmbedder } from '../../../src/main/eval/cache';
import { type EmbedOptions, type Embedder, HashBowEmbedder } from '../../../src/main/eval/embedder';
import {
  compareEntries,
  formatComparison,
  NO_REVISION,
  readResultFiles,
} from '../../../src/main/eval/results';
import { EvalService } from '../../../src/main/eval/service';
import { openWorkbench } from '../../../src/main/workbench';
import { hasSharedDatasets, REPO_ROOT, SHARED_DATASETS, tmpDir } from '../../helpers/tmp';

/** Counts texts that reach the model, to see what the cache saves. */
class Counting implements Embedder {
  calls = 0;
  texts = 0;
  constructor(
    readonly inner: Embedder,
    readonly id = inner.id,
  ) {}
  get dim() {
    return this.inner.dim;
  }
  async embed(t: string[], o: EmbedOptions) {
    this.calls++;
    this.texts += t.length;
    return this.inner.embed(t, o);
  }
}

const D = SHARED_DATASETS;

describe('embedding cache', () => {
  it('re-embeds only unseen texts, per (model, role, instruction), and survives reopening', async () => {
    const dir = tmpDir();
    const inner = new Counting(new HashBowEmbedder(32));
    const c = new CachedEmbedder(inner, dir);
    const a = await c.embed(['x', 'y', 'x'], { role: 'document' });
    expect(inner.texts).toBe(2); // 'x' once
    expect([...a[0]]).toEqual([...a[2]]);
    await c.embed(['x', 'z'], { role: 'document' });
    expect(inner.texts).toBe(3);
    await c.embed(['x'], { role: 'query', instruction: 'Find it' }); // other namespace
    expect(inner.texts).toBe(4);
    const again = new CachedEmbedder(inner, dir);
    const b = await again.embed(['z', 'x', 'y'], { role: 'document' });
    expect(inner.texts).toBe(4);
    expect([...b[1]]).toEqual([...a[0]]);
    expect(again.stats).toEqual({ hits: 3, misses: 0 });
    // another checkpoint = another id = its own file
    const other = new CachedEmbedder(new Counting(new HashBowEmbedder(32), 'ckpt-2'), dir);
    await other.embed(['x'], { role: 'document' });
    expect(other.stats.misses).toBe(1);
  });
});

describe.skipIf(!hasSharedDatasets)('EvalService', () => {
  it('stores rows, writes MTEB files, reuses the cache and compares revisions with deltas', async () => {
    const home = tmpDir();
    const wb = openWorkbench({ home });
    try {
      const svc = new EvalService(wb.paths, wb.store);
      const tasks = svc.tasks(
        [
          `sts:${D}/stsbenchmark/test.jsonl`,
          `beir:${D}/xquad/beir/en`,
          `bitext:${D}/tatoeba/tatoeba.spa-eng.spa,${D}/tatoeba/tatoeba.spa-eng.eng`,
        ],
        { limit: 120 },
      );
      const base = new Counting(new HashBowEmbedder(128));
      const r1 = await svc.evaluate({ embedder: base, tasks, modelName: 'org/tiny model' });
      expect(r1.results.map((r) => r.taskType)).toEqual(['STS', 'Retrieval', 'BitextMining']);
      const file = r1.results[0].resultPath!;
      expect(path.relative(wb.paths.results, file)).toBe(
        path.join('org__tiny_model', NO_REVISION, 'stsbenchmark-test.json'),
      );
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(doc.task_name).toBe('stsbenchmark-test');
      expect(doc.scores.test[0].main_score).toBeCloseTo(r1.results[0].mainScore, 6);
      expect(doc.scores.test[0].hf_subset).toBe('default');
      const meta = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'model_meta.json'), 'utf8'));
      expect(meta).toMatchObject({
        name: 'org/tiny model',
        revision: NO_REVISION,
        embed_dim: 128,
        similarity_fn_name: 'cosine',
      });
      expect(svc.results().length).toBe(3);
      // one file as two task types: distinct names (result files, table columns)
      const twice = svc.tasks([`sts:${D}/sick/SICK_trial.txt`, `pairclf:${D}/sick/SICK_trial.txt`]);
      expect(twice.map((t) => t.name)).toEqual(['sick-SICK_trial-STS', 'sick-SICK_trial-PairClassification']);

      // same model again: every text from the cache
      const textsBefore = base.texts;
      const r2 = await svc.evaluate({ embedder: base, tasks, modelName: 'org/tiny model' });
      expect(base.texts).toBe(textsBefore);
      expect(r2.cache.misses).toBe(0);
      expect(r2.results.map((r) => r.mainScore)).toEqual(r1.results.map((r) => r.mainScore));

      // a "checkpoint": another model id (more dimensions) evaluated as a revision of the same model
      const ck = new HashBowEmbedder(512);
      await svc.evaluate({ embedder: ck, tasks, modelName: 'org/tiny model', revision: 'ckpt-100' });
      const t = svc.compare();
      expect(t.rows.map((r) => r.label)).toEqual(['org/tiny model', 'org/tiny model@ckpt-100']);
      const [b, c] = t.rows;
      for (const col of t.columns) {
        if (b.values[col.key] === null) continue;
        expect(c.delta![col.key]).toBeCloseTo(c.values[col.key]! - b.values[col.key]!, 12);
      }
      expect(t.columns.map((x) => x.key)).toEqual([
        'xquad-en',
        'stsbenchmark-test',
        'tatoeba.spa-eng/spa-eng',
        'avg:Retrieval',
        'avg:STS',
        'avg:BitextMining',
        'avg',
      ]);
      expect(b.values.avg).toBeCloseTo(
        (b.values['xquad-en']! + b.values['stsbenchmark-test']! + b.values['tatoeba.spa-eng/spa-eng']!) / 3,
        12,
      );
      // the same table from the files on disk
      const fromFiles = compareEntries(readResultFiles([wb.paths.results]));
      expect(fromFiles.rows.map((r) => r.label)).toEqual(t.rows.map((r) => r.label));
      for (const col of t.columns)
        expect(fromFiles.rows[1].values[col.key]).toBeCloseTo(c.values[col.key]!, 5);
      expect(formatComparison(t)).toMatch(/org\/tiny model@ckpt-100/);
    } finally {
      wb.close();
    }
  });
});

describe.skipIf(!hasSharedDatasets)('embedsmith eval (CLI)', () => {
  /** In-process run of the CLI entry point, capturing stdout and stderr. */
  const run = async (...args: string[]) => {
    let stdout = '';
    let stderr = '';
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      stdout += String(s);
      return true;
    });
    const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      stderr += String(s);
      return true;
    });
    try {
      const status = await main(args);
      return { status, stdout, stderr };
    } finally {
      so.mockRestore();
      se.mockRestore();
    }
  };

  it('evaluates in a child process, prints one JSON document, and compares results', async () => {
    const home = tmpDir();
    const out = path.join(home, 'summary.json');
    const r = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'bin/embedsmith.mjs'),
        'eval',
        '--home',
        home,
        '--model',
        'builtin:hashbow-64',
        '--task',
        `sts:${D}/stsbenchmark/original/sts-dev.csv`,
        '--limit',
        '50',
        '--out',
        out,
        '--json',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.runs[0].results[0].type).toBe('STS');
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(doc);
    const c = await run('eval', 'compare', '--home', home, '--json', path.join(home, 'results'));
    expect(c.status).toBe(0);
    const t = JSON.parse(c.stdout);
    expect(t.rows[0].values['stsbenchmark-sts-dev']).toBeCloseTo(doc.runs[0].results[0].main_score, 6);
    const human = await run('eval', 'compare', '--home', home);
    expect(human.stdout).toMatch(/stsbenchmark-sts-dev/);
  });

  it('exit 2 on usage errors, 1 with one line for bad input', async () => {
    const home = tmpDir();
    expect((await run('eval', '--home', home, '--task', 'sts:x.tsv')).status).toBe(2);
    expect((await run('eval', '--home', home, '--model', 'builtin:hashbow', '--task', 'nope:x')).status).toBe(
      2,
    );
    const bad = path.join(home, 'bad.tsv');
    fs.writeFileSync(bad, 'sentence1\tsentence2\tscore\na\tb\tx\n');
    const r = await run('eval', '--home', home, '--model', 'builtin:hashbow', '--task', `sts:${bad}`);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: ${bad}:2: score "x" is not a number; fix that line`,
    ]);
  });
});
