// Parity against transformers 4.40.2 + PEFT 0.10.0 (test/fixtures/parity, float32, CPU). Prints the worst
// error per quantity; tolerances are the fixture README's.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostTensor } from '../../../src/main/engine/runtime';
import { buildForward, buildInfoNce } from '../../../src/main/models/graphs';
import { loraKeyA, loraKeyB, mergeInto, loraScaling } from '../../../src/main/models/lora';
import { EmbeddingModel } from '../../../src/main/models/model';
import { type PaddedBatch, type Pooling, poolWeights } from '../../../src/main/models/pooling';
import { readF32, readInt, readStHeader, type StHeader } from '../../../src/main/models/safetensors';
import { FIXTURES } from '../../helpers/tmp';

const PARITY = path.join(FIXTURES, 'parity');
const TOL = { hidden: 1e-4, scores: 1e-4, lossRel: 1e-4, gradRel: 1e-3 };

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>, keep?: (i: number) => boolean): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) if (!keep || keep(i)) w = Math.max(w, Math.abs(a[i] - b[i]));
  return w;
}

/** A fixture case as a padded batch (ids, mask and positions exactly as transformers saw them). */
function fixtureBatch(cases: StHeader, prefix: string, pooling: Pooling, B: number, T: number): PaddedBatch {
  const i64 = (n: string) => BigInt64Array.from(readInt(cases, `${prefix}.${n}`).map(BigInt));
  const mask = readInt(cases, `${prefix}.attention_mask`);
  const has = (n: string) => cases.tensors.has(`${prefix}.${n}`);
  const arange = BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T));
  return {
    batch: B,
    seqLen: T,
    inputIds: i64('input_ids'),
    attentionMask: i64('attention_mask'),
    positionIds: has('position_ids') ? i64('position_ids') : arange,
    tokenTypeIds: has('token_type_ids') ? i64('token_type_ids') : new BigInt64Array(B * T),
    poolWeights: poolWeights(mask, B, T, pooling),
  };
}

const report: string[] = [];
afterAll(() => {
  console.log(`\nparity worst errors:\n${report.join('\n')}`);
});

describe.each(['mistral', 'qwen2', 'bert'])('parity %s', (name) => {
  const dir = path.join(PARITY, name);
  const cases = readStHeader(path.join(dir, 'cases.safetensors'));
  const grads = readStHeader(path.join(dir, 'lora_grads.safetensors'));
  const isBert = name === 'bert';
  const H = 64;
  const log = (what: string, v: number) =>
    report.push(`  ${name.padEnd(8)} ${what.padEnd(40)} ${v.toExponential(2)}`);

  /** Runs a graph built by `build` on a batch; returns all outputs. */
  async function run(
    model: EmbeddingModel,
    key: string,
    build: Parameters<EmbeddingModel['session']>[1],
    b: PaddedBatch,
    extra = {},
  ) {
    const s = await model.session(key, build);
    return s.run(
      model.feeds(b, { pool_weights: hostTensor('float32', [b.batch, b.seqLen], b.poolWeights), ...extra }),
    );
  }

  it('last_hidden_state and pooled embeddings for every padding case', async () => {
    const poolings: [Pooling, string][] = isBert
      ? [
          ['mean', 'pooled_mean'],
          ['cls', 'pooled_cls'],
        ]
      : [['last_token', 'pooled_last']];
    for (const [pooling, key] of poolings) {
      const model = EmbeddingModel.load(dir, { pooling, inThread: true });
      expect(model.causal).toBe(!isBert);
      for (const c of isBert ? ['right', 'left'] : ['right', 'left', 'left_pos']) {
        const b = fixtureBatch(cases, c, pooling, 4, 16);
        const mask = readInt(cases, `${c}.attention_mask`);
        for (const normalize of [false, true]) {
          const o = await run(
            model,
            `p:${normalize}`,
            () =>
              buildForward(model.ck, model.arch, {
                causal: model.causal,
                hidden: true,
                pooled: true,
                normalize,
              }),
            b,
          );
          if (!normalize && pooling === poolings[0][0]) {
            const e = maxAbs(
              o.last_hidden_state.data as Float32Array,
              readF32(cases, `${c}.last_hidden_state`),
              (i) => mask[Math.floor(i / H)] === 1,
            );
            log(`${c}.last_hidden_state (real tokens)`, e);
            expect(e).toBeLessThan(TOL.hidden);
          }
          const e = maxAbs(
            o.embeddings.data as Float32Array,
            readF32(cases, `${c}.${key}${normalize ? '_norm' : ''}`),
          );
          log(`${c}.${key}${normalize ? '_norm' : ''}`, e);
          expect(e).toBeLessThan(TOL.hidden);
        }
      }
      await model.dispose();
    }
  });

  it('LoRA-on embeddings, InfoNCE loss and every LoRA gradient; base and merged outputs', async () => {
    const model = EmbeddingModel.load(dir, { inThread: true });
    const pooling: Pooling = isBert ? 'mean' : 'last_token';
    expect(model.pooling).toBe(pooling); // from 1_Pooling/config.json
    const adapter = model.loadAdapter(path.join(dir, 'adapter'));
    const b = fixtureBatch(cases, 'lora_batch', pooling, 6, 16);
    const mask = readInt(cases, 'lora_batch.attention_mask');
    const real = (i: number) => mask[Math.floor(i / H)] === 1;
    const nce = { numQueries: 2, numDocs: 4, temperature: 0.05, causal: model.causal };

    // Base model: pooled, scores, loss.
    const base = await run(model, 'nce-base', () => buildInfoNce(model.ck, model.arch, nce), b);
    log(
      'lora_batch.base_pooled_norm',
      maxAbs(base.embeddings.data as Float32Array, readF32(cases, 'lora_batch.base_pooled_norm')),
    );
    const bs = maxAbs(base.scores.data as Float32Array, readF32(cases, 'lora_batch.base_scores'));
    log('lora_batch.base_scores', bs);
    expect(bs).toBeLessThan(TOL.scores);
    const bl = Math.abs((base.loss.data as Float32Array)[0] / readF32(cases, 'lora_batch.base_loss')[0] - 1);
    log('lora_batch.base_loss (rel)', bl);
    expect(bl).toBeLessThan(TOL.lossRel);

    // LoRA on: hidden, pooled, scores, loss, gradients.
    const wiring = model.loraWiring(adapter);
    const lo = await run(
      model,
      'nce-lora',
      () => buildInfoNce(model.ck, model.arch, { ...nce, lora: wiring }),
      b,
      model.loraFeeds(adapter),
    );
    const hid = await run(
      model,
      'fwd-lora',
      () =>
        buildForward(model.ck, model.arch, {
          causal: model.causal,
          lora: wiring,
          hidden: true,
          pooled: true,
          normalize: false,
        }),
      b,
      model.loraFeeds(adapter),
    );
    const eh = maxAbs(
      hid.last_hidden_state.data as Float32Array,
      readF32(grads, 'lora_on.last_hidden_state'),
      real,
    );
    log('lora_on.last_hidden_state (real tokens)', eh);
    expect(eh).toBeLessThan(TOL.hidden);
    const ep = maxAbs(hid.embeddings.data as Float32Array, readF32(grads, 'lora_on.pooled'));
    log('lora_on.pooled', ep);
    expect(ep).toBeLessThan(TOL.hidden);
    const en = maxAbs(lo.embeddings.data as Float32Array, readF32(grads, 'lora_on.pooled_norm'));
    log('lora_on.pooled_norm', en);
    expect(en).toBeLessThan(TOL.hidden);
    const es = maxAbs(lo.scores.data as Float32Array, readF32(grads, 'lora_on.scores'));
    log('lora_on.scores', es);
    expect(es).toBeLessThan(TOL.scores);
    const el = Math.abs((lo.loss.data as Float32Array)[0] / readF32(grads, 'lora_on.loss')[0] - 1);
    log('lora_on.loss (rel)', el);
    expect(el).toBeLessThan(TOL.lossRel);
    const names: string[] = JSON.parse(
      fs.readFileSync(path.join(dir, 'lora_grads.json'), 'utf8'),
    ).lora_param_names;
    expect(names.length).toBe(adapter.tensors.size);
    let worstRel = 0;
    for (const peft of names) {
      const ours = peft.replace(/^base_model\.model\./, '').replace('.default.weight', '.weight');
      const g = lo[`grad.${ours}`];
      expect(g, ours).toBeDefined();
      const ref = readF32(grads, peft);
      const gmax = Math.max(...Array.from(ref, Math.abs));
      const rel = maxAbs(g.data as Float32Array, ref) / gmax;
      worstRel = Math.max(worstRel, rel);
      expect(rel, peft).toBeLessThan(TOL.gradRel);
    }
    log(`gradients (${names.length}), max|Δg|/max|g|`, worstRel);
    // Gradient checkpointing per layer changes memory, not values.
    const ck = await run(
      model,
      'nce-lora-ckpt',
      () => buildInfoNce(model.ck, model.arch, { ...nce, lora: wiring, recomputeLayers: true }),
      b,
      model.loraFeeds(adapter),
    );
    let ckWorst = 0;
    for (const k of Object.keys(lo))
      if (k.startsWith('grad.'))
        ckWorst = Math.max(ckWorst, maxAbs(ck[k].data as Float32Array, lo[k].data as Float32Array));
    log('gradients with layer checkpointing vs without', ckWorst);
    expect(ckWorst).toBeLessThan(1e-5);

    // Merged weights (LoRA folded into W, inlined) reproduce transformers' merged model.
    const overrides = new Map<string, Float32Array>();
    const scaling = loraScaling(adapter.config);
    for (const m of adapter.modules)
      overrides.set(
        `${m.path}.weight`,
        mergeInto(
          model.ck.read(`${m.path}.weight`),
          adapter.tensors.get(loraKeyA(m.path))!.data,
          adapter.tensors.get(loraKeyB(m.path))!.data,
          m.outFeatures,
          m.inFeatures,
          adapter.config.r,
          scaling,
        ),
      );
    const mg = await run(
      model,
      'merged',
      () =>
        buildForward(model.ck, model.arch, {
          causal: model.causal,
          overrides,
          hidden: true,
          pooled: true,
          normalize: false,
        }),
      b,
    );
    const em = maxAbs(
      mg.last_hidden_state.data as Float32Array,
      readF32(cases, 'merged.last_hidden_state'),
      real,
    );
    log('merged.last_hidden_state (real tokens)', em);
    expect(em).toBeLessThan(TOL.hidden);
    const emp = maxAbs(mg.embeddings.data as Float32Array, readF32(cases, 'merged.pooled'));
    log('merged.pooled', emp);
    expect(emp).toBeLessThan(TOL.hidden);
    await model.dispose();
  });
});
