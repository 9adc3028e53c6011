import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/shared/random';
import { EmbeddingModel } from '../../../src/main/models/model';
import { parseTrainConfig } from '../../../src/main/training/config';
import { falseNegativeMask, infoNceReference } from '../../../src/main/training/loss';
import { buildRecipe } from '../../../src/main/training/scaleout/recipe';
import { RECIPE_PY } from '../../../src/main/training/scaleout/train-py';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

// The exported job's torch-only half (embedsmith_recipe.py) run by a real Python with torch, against our
// own functions: the masked InfoNCE and its gradient against the trainer's float64 reference with the
// trainer's false-negative mask; tokenization and padding against our model code; the batch slices per
// process. Needs a python3 with torch (Debian's python3-torch on CI); skipped, saying so, without one.
const PYTHONS = ['python3', '/usr/bin/python3'];
const PY = PYTHONS.find((p) => spawnSync(p, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
if (!PY) console.warn('skipping the embedsmith_recipe.py checks: no python3 with torch here');

function runPy(code: string, input: unknown): unknown {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'embedsmith_recipe.py'), RECIPE_PY);
  const r = spawnSync(PY as string, ['-c', code], {
    cwd: dir,
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const unit = (rand: () => number, d: number) => {
  const v = Array.from({ length: d }, () => rand() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe.skipIf(!PY)('embedsmith_recipe.py (the exported job’s torch-only half)', () => {
  it('masked InfoNCE and its gradient equal the trainer’s (shared positives, negatives equal to a positive, padding)', () => {
    const d = 8;
    const rand = mulberry32(5);
    const positives = ['p0', 'p0', 'p2', 'p3', 'p4', 'p5'];
    const negatives = [['n0a', 'n0b'], ['n1a'], ['p3'], [], ['n4a', 'p4'], ['n5a', 'n0a']];
    const anchors = positives.map((_, i) => `q${i}`);
    const B = positives.length;
    const K = 2;
    // One vector per candidate slot: the positive of each row, then each negative column (padding too). A
    // text has one embedding wherever it appears (as a model gives it), and each query lies near its
    // positive, so the masked copies of a positive weigh as much as the positive itself.
    const cols = Array.from({ length: 1 + K }, () => positives.map(() => unit(rand, d)));
    cols[0][1] = cols[0][0];
    cols[1][2] = cols[0][3];
    cols[2][4] = cols[0][4];
    cols[2][5] = cols[1][0];
    const q = cols[0].map((p) => {
      const v = p.map((x) => x + 1.2 * (rand() * 2 - 1));
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    });
    // Ours: candidates = every positive, then every real negative in row order.
    const candTexts = [...positives];
    const candVecs = [...cols[0]];
    const slotOf: [number, number][] = [];
    for (const [i, ns] of negatives.entries())
      for (const [j, t] of ns.entries()) {
        candTexts.push(t);
        candVecs.push(cols[1 + j][i]);
        slotOf.push([1 + j, i]);
      }
    const tau = 0.05;
    const ours = infoNceReference({
      q: Float64Array.from(q.flat()),
      c: Float64Array.from(candVecs.flat()),
      B,
      M: candTexts.length,
      d,
      mask: falseNegativeMask(positives, candTexts),
      temperature: tau,
    });
    const got = runPy(
      `
import json, sys, torch
from embedsmith_recipe import text_columns, masked_info_nce
x = json.load(sys.stdin)
c = text_columns(x["anchors"], x["positives"], x["negatives"], 2)
ids = torch.tensor(c["label"])
q = torch.tensor(x["q"], requires_grad=True)
cols = [torch.tensor(v, requires_grad=True) for v in x["cols"]]
total, mean = masked_info_nce(q, cols, ids, 1 / x["tau"], 4, gather=False, with_backward=True)
print(json.dumps({"loss": mean, "label": c["label"], "neg1": c["negative_1"], "dq": q.grad.tolist(),
                  "dcols": [t.grad.tolist() for t in cols]}))
`,
      { anchors, positives, negatives, q, cols, tau },
    ) as { loss: number; label: number[][]; neg1: string[]; dq: number[][]; dcols: number[][][] };
    // The columns: rows 0 and 1 share the positive's id, row 2's negative has row 3's positive's id,
    // missing negatives are empty texts with id -1.
    expect(got.label[1][0]).toBe(got.label[0][0]);
    expect(got.label[2][1]).toBe(got.label[3][0]);
    expect(got.label[3]).toEqual([got.label[3][0], -1, -1]);
    expect(got.neg1[3]).toBe('');
    expect(ours.loss).toBeGreaterThan(0.1);
    expect(Math.abs(got.loss - ours.loss) / ours.loss).toBeLessThan(1e-5);
    for (let i = 0; i < B; i++)
      for (let k = 0; k < d; k++) expect(got.dq[i][k]).toBeCloseTo(ours.dq[i * d + k], 5);
    // Positives: candidate i; negatives: their slot; padded slots get no gradient.
    for (let i = 0; i < B; i++)
      for (let k = 0; k < d; k++) expect(got.dcols[0][i][k]).toBeCloseTo(ours.dc[i * d + k], 5);
    slotOf.forEach(([col, row], n) => {
      for (let k = 0; k < d; k++) expect(got.dcols[col][row][k]).toBeCloseTo(ours.dc[(B + n) * d + k], 5);
    });
    expect(got.dcols[1][3].every((v) => v === 0)).toBe(true);
    expect(got.dcols[2][1].every((v) => v === 0)).toBe(true);
    // The masking matters here: without it (every candidate allowed) the loss is another number.
    const unmasked = infoNceReference({
      q: Float64Array.from(q.flat()),
      c: Float64Array.from(candVecs.flat()),
      B,
      M: candTexts.length,
      d,
      mask: new Uint8Array(B * candTexts.length).fill(1),
      temperature: tau,
    });
    expect(Math.abs(unmasked.loss - ours.loss)).toBeGreaterThan(1e-3);
  });

  for (const fixture of ['mistral', 'bert'])
    it(`tokenization and padding equal our model code (${fixture} fixture, EOS/suffix kept when truncating)`, () => {
      const dir = path.join(FIXTURES, 'parity', fixture);
      const config = parseTrainConfig({
        datasets: ['x'],
        model: dir,
        out: tmpDir(),
        maxLength: 12,
        batchSize: 2,
        chunkSize: 1,
      });
      const recipe = buildRecipe(config, [], {
        framework: 'sentence-transformers',
        gpus: 1,
        nodes: 1,
        run: null,
      });
      const model = EmbeddingModel.load(dir, { maxLength: 12 });
      const texts = [
        'hello',
        'the cat sat on the mat and then the dog ran far away over the hill',
        'Instruct: find it\nQuery: a b c',
      ];
      const raw = texts.map((t) => model.tokenizer.encode(t));
      const want = model.tokenize(texts);
      expect(want[1].length).toBe(12); // really truncated
      const padded = model.pad(want);
      const got = runPy(
        `
import json, sys
from embedsmith_recipe import truncate_ids, pad_batch
x = json.load(sys.stdin)
seqs = [truncate_ids(r, x["tok"]) for r in x["raw"]]
b = pad_batch(seqs, x["tok"])
print(json.dumps({"seqs": seqs, **{k: v.tolist() for k, v in b.items()}}))
`,
        { raw, tok: recipe.tokenizer },
      ) as { seqs: number[][]; input_ids: number[][]; attention_mask: number[][]; position_ids?: number[][] };
      expect(got.seqs).toEqual(want);
      const T = padded.seqLen;
      const rows = (a: BigInt64Array) =>
        texts.map((_, b) => Array.from(a.subarray(b * T, (b + 1) * T), Number));
      expect(got.input_ids).toEqual(rows(padded.inputIds));
      expect(got.attention_mask).toEqual(rows(padded.attentionMask));
      if (recipe.tokenizer.positions === 'cumsum') expect(got.position_ids).toEqual(rows(padded.positionIds));
      else expect(got.position_ids).toBeUndefined();
    });

  it('the batch sampler hands slice r of every global batch to process r', () => {
    const steps = [
      [5, 1, 7, 3, 0, 2],
      [4, 6, 8, 9, 10, 11],
    ];
    const got = runPy(
      `
import json, sys, tempfile, os
from embedsmith_recipe import RecipeSampling
x = json.load(sys.stdin)
f = os.path.join(tempfile.mkdtemp(), "batches.jsonl")
open(f, "w").write("".join(json.dumps({"step": i + 1, "rows": r}) + "\\n" for i, r in enumerate(x)))
s = RecipeSampling(f, 3, 2)(None, batch_size=2, drop_last=True)
print(json.dumps({"len": len(s), "batches": list(s)}))
`,
      steps,
    ) as { len: number; batches: number[][] };
    expect(got.len).toBe(6);
    // accelerate gives process r the batches r, r + 3, …: slice r of each step.
    for (let r = 0; r < 3; r++)
      expect(got.batches.filter((_, i) => i % 3 === r)).toEqual(steps.map((s) => s.slice(2 * r, 2 * r + 2)));
  });
});
