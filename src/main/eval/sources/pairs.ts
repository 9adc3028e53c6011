// Pair files: STS (two texts and a score) and pair classification (two texts and a 0/1 label), in the
// layouts public sets ship (STS Benchmark TSV, stsb-multi-mt CSV, SICK TSV, JSONL, any header TSV/CSV).
import path from 'node:path';
import { UserError } from '../../errors';
import type { PairClassificationTask, StsTask } from '../tasks';
import { type FileTaskOptions, taskMeta } from './meta';
import { lines, parseDelimited, readJsonl, readText } from './read';

interface PairRow {
  s1: string;
  s2: string;
  value: string;
  line: number;
}

const S1_KEYS = ['sentence1', 'sentence_a', 'text1', 's1', 'query', 'text_a'];
const S2_KEYS = ['sentence2', 'sentence_b', 'text2', 's2', 'positive', 'text_b'];

function readPairs(file: string, valueKeys: string[], what: string): PairRow[] {
  const text = readText(file, what);
  const ext = path.extname(file).toLowerCase();
  const pick = (keys: string[], names: string[]) => names.findIndex((n) => keys.includes(n.toLowerCase()));
  if (ext === '.jsonl' || ext === '.json') {
    return readJsonl(file, what).map((r, i) => {
      const names = Object.keys(r);
      const a = pick(S1_KEYS, names);
      const b = pick(S2_KEYS, names);
      const v = pick(valueKeys, names);
      if (a < 0 || b < 0 || v < 0)
        throw new UserError(
          `${file}:${i + 1}: expected fields ${S1_KEYS[0]}, ${S2_KEYS[0]} and ${valueKeys[0]} (found ${names.join(', ')})`,
        );
      return { s1: String(r[names[a]]), s2: String(r[names[b]]), value: String(r[names[v]]), line: i + 1 };
    });
  }
  const first = lines(text)[0] ?? '';
  const tabs = first.split('\t');
  // STS Benchmark original: tab-separated despite ".csv", no quoting, 7+ fields, score in field 5.
  if (tabs.length >= 7 && Number.isFinite(Number(tabs[4]))) {
    return lines(text)
      .map((l, i) => ({ l, i }))
      .filter(({ l }) => l.trim())
      .map(({ l, i }) => {
        const f = l.split('\t');
        if (f.length < 7)
          throw new UserError(
            `${file}:${i + 1}: expected at least 7 tab-separated fields (STS Benchmark layout)`,
          );
        return { s1: f[5], s2: f[6], value: f[4], line: i + 1 };
      });
  }
  const delim = tabs.length > 1 ? '\t' : ',';
  // Tab files without quotes (SICK) are split plainly: their sentences may contain stray quotes.
  const rows =
    delim === '\t' && !text.includes('\t"')
      ? lines(text)
          .filter((l) => l.trim())
          .map((l) => l.split('\t'))
      : parseDelimited(text, delim);
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const a = pick(S1_KEYS, header);
  const b = pick(S2_KEYS, header);
  const v = pick(valueKeys, header);
  if (a >= 0 && b >= 0 && v >= 0)
    return rows.slice(1).map((r, i) => ({ s1: r[a] ?? '', s2: r[b] ?? '', value: r[v] ?? '', line: i + 2 }));
  // No header: sentence1, sentence2, value (stsb-multi-mt).
  return rows.map((r, i) => {
    if (r.length < 3)
      throw new UserError(
        `${file}:${i + 1}: expected 3 fields "sentence1${delim === '\t' ? '<TAB>' : ','}sentence2${delim === '\t' ? '<TAB>' : ','}${valueKeys[0]}", got ${r.length}`,
      );
    return { s1: r[0], s2: r[1], value: r[2], line: i + 1 };
  });
}

/** STS file: STS Benchmark original (TSV), its JSONL, stsb-multi-mt CSV, SICK TSV, or any header TSV/CSV. */
export function loadSts(
  file: string,
  opts: FileTaskOptions & { minScore?: number; maxScore?: number } = {},
): StsTask {
  let rows = readPairs(file, ['score', 'relatedness_score', 'similarity_score', 'label'], 'STS file');
  if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
  if (rows.length === 0) throw new UserError(`${file}: no sentence pairs found`);
  const pairs = rows.map((r) => {
    const score = Number(r.value.trim());
    if (r.value.trim() === '' || !Number.isFinite(score))
      throw new UserError(`${file}:${r.line}: score "${r.value}" is not a number; fix that line`);
    return { s1: r.s1, s2: r.s2, score };
  });
  return {
    type: 'STS',
    ...taskMeta(file, opts),
    pairs,
    minScore: opts.minScore ?? 0,
    maxScore: opts.maxScore ?? 5,
  };
}

/** Pair classification file: two texts and a 0/1 label (SICK's ENTAILMENT counts as 1, other judgements 0). */
export function loadPairClassification(file: string, opts: FileTaskOptions = {}): PairClassificationTask {
  let rows = readPairs(
    file,
    ['label', 'entailment_judgment', 'is_duplicate', 'score'],
    'pair-classification file',
  );
  if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
  if (rows.length === 0) throw new UserError(`${file}: no sentence pairs found`);
  const pairs = rows.map((r) => {
    const v = r.value.trim();
    let label: 0 | 1;
    if (v === '1' || v === 'true' || v === 'ENTAILMENT') label = 1;
    else if (v === '0' || v === 'false' || v === 'NEUTRAL' || v === 'CONTRADICTION') label = 0;
    else throw new UserError(`${file}:${r.line}: label "${r.value}" is not 0/1; fix that line`);
    return { s1: r.s1, s2: r.s2, label };
  });
  return {
    type: 'PairClassification',
    ...taskMeta(file, opts),
    pairs,
  };
}
