import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors';
import type { DropoutSpec, EncoderOptions, TrainableEncoder } from '../models/encoder';
import type { ParamSpec } from '../models/encoder';
import { mulberry32 } from './rng';
import { readTensors } from './tensors';

/**
 * A small pure-TypeScript encoder with exactly the TrainableEncoder contract, used to test and
 * benchmark the training machinery (GradCache, optimiser, checkpoints, resume, jobs) independently of
 * the ONNX model graphs: e = normalise(W·x + s·B·A·dropout(x)), x = mean of the model folder's token
 * embeddings, W a square projection from the same checkpoint. Float64 arithmetic. Selected with the
 * `--encoder reference` flag; real training uses the models area's encoder.
 */
export class ReferenceEncoder implements TrainableEncoder {
  readonly dim: number;
  readonly params: ParamSpec[];
  private readonly scaling: number;
  private peak = 0;

  private constructor(
    private readonly tok: Tokenizer,
    private readonly eosId: number | null,
    private readonly emb: Float32Array,
    private readonly proj: Float32Array,
    private readonly h: number,
    private readonly rank: number,
    alpha: number,
    private readonly maxLength: number,
  ) {
    this.dim = h;
    this.scaling = alpha / rank;
    this.params = [
      { name: 'reference.proj.lora_A.weight', shape: [rank, h] },
      { name: 'reference.proj.lora_B.weight', shape: [h, rank] },
    ];
  }

  static load(opts: EncoderOptions): ReferenceEncoder {
    const dir = opts.modelDir;
    const read = (f: string) => {
      const p = path.join(dir, f);
      if (!fs.existsSync(p)) throw new UserError(`${dir}: missing ${f}; pass a model folder with --model`);
      return JSON.parse(fs.readFileSync(p, 'utf8'));
    };
    const tj = read('tokenizer.json');
    const tc = read('tokenizer_config.json');
    const cfg = read('config.json');
    const tensors = readTensors(path.join(dir, 'model.safetensors'));
    const embName = [...tensors.keys()].find((k) => /(embed_tokens|word_embeddings)\.weight$/.test(k));
    if (!embName) throw new UserError(`${dir}: no token embedding matrix in model.safetensors`);
    const E = tensors.get(embName);
    const h = E?.shape[1] ?? 0;
    const projName = [...tensors.keys()]
      .sort()
      .find((k) => /(o_proj|attention\.output\.dense)\.weight$/.test(k) && tensors.get(k)?.shape[0] === h);
    if (!E || !projName) throw new UserError(`${dir}: no square projection weight for the reference encoder`);
    const tok = new Tokenizer(tj, tc);
    const eosId = cfg.model_type === 'bert' ? null : (cfg.eos_token_id ?? null);
    return new ReferenceEncoder(
      tok,
      eosId,
      E.data,
      (tensors.get(projName) as { data: Float32Array }).data,
      h,
      opts.rank,
      opts.alpha,
      opts.maxLength,
    );
  }

  private readonly idCache = new Map<string, number[]>();

  private ids(text: string): number[] {
    const hit = this.idCache.get(text);
    if (hit) return hit;
    const raw = this.tok.encode(text).ids as number[];
    const ids =
      this.eosId === null ? raw.slice(0, this.maxLength) : [...raw.slice(0, this.maxLength - 1), this.eosId];
    if (this.idCache.size < 200_000) this.idCache.set(text, ids);
    return ids;
  }

  countTokens(texts: string[]): number[] {
    return texts.map((t) => this.ids(t).length);
  }

  initLora(seed: number): Map<string, Float32Array> {
    const rand = mulberry32(seed);
    const bound = 1 / Math.sqrt(this.h); // kaiming_uniform(a=√5) on [r, in]
    const A = Float32Array.from({ length: this.rank * this.h }, () => (2 * rand() - 1) * bound);
    const B = new Float32Array(this.h * this.rank);
    return new Map([
      [this.params[0].name, A],
      [this.params[1].name, B],
    ]);
  }

  private forwardOne(text: string, lora: Map<string, Float32Array>, p: number, seed: number | null) {
    const { h, rank: r } = this;
    const ids = this.ids(text);
    const x = new Float64Array(h);
    for (const id of ids) for (let k = 0; k < h; k++) x[k] += this.emb[id * h + k];
    for (let k = 0; k < h; k++) x[k] /= ids.length;
    const xd = Float64Array.from(x);
    if (seed !== null && p > 0) {
      const rand = mulberry32(seed);
      for (let k = 0; k < h; k++) xd[k] = rand() < p ? 0 : xd[k] / (1 - p);
    }
    const A = lora.get(this.params[0].name) as Float32Array;
    const Bw = lora.get(this.params[1].name) as Float32Array;
    const u = new Float64Array(r);
    for (let i = 0; i < r; i++) {
      let a = 0;
      for (let k = 0; k < h; k++) a += A[i * h + k] * xd[k];
      u[i] = a;
    }
    const y = new Float64Array(h);
    for (let o = 0; o < h; o++) {
      let a = 0;
      for (let k = 0; k < h; k++) a += this.proj[o * h + k] * x[k];
      let l = 0;
      for (let i = 0; i < r; i++) l += Bw[o * r + i] * u[i];
      y[o] = a + this.scaling * l;
    }
    let nrm = 0;
    for (let o = 0; o < h; o++) nrm += y[o] * y[o];
    nrm = Math.max(Math.sqrt(nrm), 1e-12);
    const e = y.map((v) => v / nrm);
    return { xd, u, e, nrm, Bw };
  }

  async embed(texts: string[], lora: Map<string, Float32Array>, dropout: DropoutSpec | null) {
    const out = new Float32Array(texts.length * this.h);
    this.peak = Math.max(this.peak, texts.length * this.h * 8 * 4);
    texts.forEach((t, i) => {
      out.set(this.forwardOne(t, lora, dropout?.p ?? 0, dropout ? dropout.seeds[i] : null).e, i * this.h);
    });
    return out;
  }

  async backward(
    texts: string[],
    lora: Map<string, Float32Array>,
    dropout: DropoutSpec | null,
    dEmb: Float32Array,
  ) {
    const { h, rank: r, scaling: s } = this;
    const dA = new Float64Array(r * h);
    const dB = new Float64Array(h * r);
    this.peak = Math.max(this.peak, texts.length * this.h * 8 * 6);
    texts.forEach((t, n) => {
      const { xd, u, e, nrm, Bw } = this.forwardOne(
        t,
        lora,
        dropout?.p ?? 0,
        dropout ? dropout.seeds[n] : null,
      );
      let eg = 0;
      for (let o = 0; o < h; o++) eg += e[o] * dEmb[n * h + o];
      const dy = new Float64Array(h);
      for (let o = 0; o < h; o++) dy[o] = (dEmb[n * h + o] - e[o] * eg) / nrm;
      const du = new Float64Array(r);
      for (let o = 0; o < h; o++)
        for (let i = 0; i < r; i++) {
          dB[o * r + i] += s * dy[o] * u[i];
          du[i] += s * Bw[o * r + i] * dy[o];
        }
      for (let i = 0; i < r; i++) for (let k = 0; k < h; k++) dA[i * h + k] += du[i] * xd[k];
    });
    return new Map([
      [this.params[0].name, Float32Array.from(dA)],
      [this.params[1].name, Float32Array.from(dB)],
    ]);
  }

  peakBytes(): number {
    return this.peak;
  }
}
