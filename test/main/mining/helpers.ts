import path from 'node:path';
import type { NewExample } from '../../../src/shared/domain';
import { EmbeddingModel } from '../../../src/main/models/model';
import { MiningService } from '../../../src/main/mining/service';
import { Store } from '../../../src/main/store';
import { workspacePaths } from '../../../src/main/paths';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

export const BERT = path.join(FIXTURES, 'parity/bert');
export const MISTRAL = path.join(FIXTURES, 'parity/mistral');

// Words from the fixture tokenizers' vocabulary (lower-case common English words).
export const WORDS = (
  'people person man woman child family friend home house room door window water fire air earth light dark ' +
  'day night morning evening week month year time world life place story idea word food bread kitchen recipe ' +
  'soup rice meat fish fruit apple sugar salt oil egg milk cheese butter dinner lunch breakfast tea coffee ' +
  'weather rain snow wind storm sun cloud sky summer winter spring game team player ball score match coach ' +
  'music song singer band guitar piano concert travel trip train plane car road city map hotel ticket airport ' +
  'health doctor body heart sleep medicine hospital money bank price market business company school student ' +
  'teacher books class study language exam'
).split(' ');

export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const phrase = (r: () => number, n: number) =>
  Array.from({ length: n }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');

/** n short-long examples with distinct texts; every 5th has an LLM negative. */
export function examples(n: number, seed = 3): NewExample[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    kind: 'short-long' as const,
    instruction: i % 2 ? 'retrieve passages about food' : 'find a document that answers the question',
    language: 'en',
    query: `${phrase(r, 3)} ${i}`,
    positive: `${phrase(r, 8)} ${i}`,
    negative: i % 5 === 0 ? `${phrase(r, 8)} n${i}` : null,
  }));
}

export function setup(rows: NewExample[]) {
  const home = tmpDir();
  const store = Store.open(path.join(home, 'db.sqlite'));
  const d = store.datasets.create('ds');
  store.examples.insertMany(d.id, rows);
  const svc = new MiningService(store, workspacePaths(home));
  return { home, store, d, svc };
}

export const count = (store: Store, table: string) =>
  (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

/** Independent scores: the model's own embed() and float64 dot products. */
export async function directScores(dir: string, qs: { text: string; instruction: string }[], docs: string[]) {
  const m = EmbeddingModel.load(dir, { inThread: true });
  try {
    const d = m.dim;
    const Q: Float32Array[] = [];
    for (const q of qs) Q.push(await m.embed([q.text], { role: 'query', instruction: q.instruction }));
    const D = await m.embed(docs, { role: 'document' });
    const norm = (v: ArrayLike<number>, o: number) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += v[o + j] ** 2;
      return Math.sqrt(s);
    };
    return (qi: number, di: number) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += Q[qi][j] * D[di * d + j];
      return s / (norm(Q[qi], 0) * norm(D, di * d));
    };
  } finally {
    await m.dispose();
  }
}
