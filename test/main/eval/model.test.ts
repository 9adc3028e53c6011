import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/main/errors';
import { ModelEmbedder } from '../../../src/main/eval/model-embedder';
import { EvalService, openTargets } from '../../../src/main/eval/service';
import { EmbeddingModel } from '../../../src/main/models/model';
import { openWorkbench } from '../../../src/main/workbench';
import { FIXTURES, hasSharedDatasets, SHARED_DATASETS, tmpDir } from '../../helpers/tmp';

const BERT = path.join(FIXTURES, 'parity/bert');
const D = SHARED_DATASETS;

describe('real model embedder (parity fixture: BertModel + PEFT LoRA adapter)', () => {
  it('returns the model’s own embeddings per role, instruction and adapter', async () => {
    const model = EmbeddingModel.load(BERT, { device: 'cpu', inThread: true });
    try {
      const base = ModelEmbedder.withAdapter(model, null);
      const lora = ModelEmbedder.withAdapter(model, path.join(BERT, 'adapter'));
      expect(base.dim).toBe(64);
      expect(base.id).not.toBe(lora.id);
      const texts = ['the cat sat', 'a dog ran far away'];
      const got = await base.embed(texts, { role: 'query', instruction: 'Find it' });
      const want = await model.embed(texts, { role: 'query', instruction: 'Find it' });
      expect(got.length).toBe(2);
      expect([...got[1]]).toEqual([...want.subarray(64, 128)]);
      const withAdapter = await lora.embed(texts, { role: 'query', instruction: 'Find it' });
      expect([...withAdapter[0]]).not.toEqual([...got[0]]);
      // the trainer's in-memory weights: same vectors, an id that follows the weights' content
      const w = model.loadAdapter(path.join(BERT, 'adapter'));
      const mem = ModelEmbedder.withWeights(model, w);
      expect([...(await mem.embed(texts, { role: 'query', instruction: 'Find it' }))[0]]).toEqual([
        ...withAdapter[0],
      ]);
      const id0 = mem.id;
      w.tensors.values().next().value!.data[0] += 0.5;
      expect(ModelEmbedder.withWeights(model, w).id).not.toBe(id0);
    } finally {
      await model.dispose();
    }
  });

  it('refuses a folder without adapter_config.json', () => {
    expect(() => openTargets(BERT, [tmpDir()])).toThrow(UserError);
  });

  it.skipIf(!hasSharedDatasets)(
    'evaluates base + adapter on real task slices and compares them',
    async () => {
      const wb = openWorkbench({ home: tmpDir() });
      try {
        const svc = new EvalService(wb.paths, wb.store);
        const tasks = svc.tasks([`sts:${D}/stsbenchmark/test.jsonl`, `beir:${D}/xquad/beir/en`], {
          limit: 40,
        });
        const { targets, close } = svc.openTargets(BERT, [path.join(BERT, 'adapter')], {
          base: true,
          device: 'cpu',
        });
        try {
          expect(targets.map((t) => t.revision)).toEqual([undefined, 'bert-adapter']);
          for (const t of targets) {
            const r = await svc.evaluate({ ...t, tasks });
            for (const x of r.results) expect(Number.isFinite(x.mainScore)).toBe(true);
          }
        } finally {
          await close();
        }
        const table = svc.compare();
        expect(table.rows.map((r) => r.label)).toEqual(['bert', 'bert@bert-adapter']);
        const delta = table.rows[1].delta!;
        expect(Object.values(delta).some((d) => d !== null && d !== 0)).toBe(true);
      } finally {
        wb.close();
      }
    },
  );
});
