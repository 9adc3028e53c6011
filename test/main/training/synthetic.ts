import fs from 'node:fs';
import path from 'node:path';
import type { NewExample } from '../../../src/shared/domain';
import { mulberry32, shuffled } from '../../../src/main/training/rng';

// No vitest import here (helpers/tmp registers hooks): the bench uses this generator too.
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures');

/**
 * A small synthetic retrieval task in the fixture vocabulary: queries are words of set A, documents the
 * words of set B they map to (a fixed bijection), so the base model (which only sees word identity) is
 * near chance and a LoRA can learn the mapping. Hard negatives map one word wrongly.
 */
export function syntheticTask(n: number, seed: number, pairs = 12): NewExample[] {
  const vocab = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'parity/mistral/tokenizer.json'), 'utf8'))
    .model.vocab as Record<string, number>;
  const words = Object.entries(vocab)
    .filter(([, id]) => id >= 5)
    .sort((a, b) => a[1] - b[1])
    .map(([w]) => w);
  const A = words.slice(0, pairs);
  const Bw = words.slice(100, 100 + pairs);
  const rand = mulberry32(seed);
  if (n > (pairs * (pairs - 1) * (pairs - 2)) / 6)
    throw new Error(`syntheticTask: only C(${pairs},3) distinct queries`);
  const out: NewExample[] = [];
  const seen = new Set<string>();
  while (out.length < n) {
    const pick = shuffled(
      A.map((_, i) => i),
      rand,
    ).slice(0, 3);
    const key = [...pick].sort().join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    const wrong = (pick[0] + 1 + Math.floor(rand() * (pairs - 1))) % pairs;
    out.push({
      kind: 'short-short',
      instruction: 'Retrieve the mapped words',
      query: pick.map((i) => A[i]).join(' '),
      positive: shuffled(
        pick.map((i) => Bw[i]),
        rand,
      ).join(' '),
      negative: [Bw[wrong], Bw[pick[1]], Bw[pick[2]]].join(' '),
      status: 'accepted',
      split: 'train',
      origin: 'synthetic',
    });
  }
  return out;
}
