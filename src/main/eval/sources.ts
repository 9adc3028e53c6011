// Task sources: BEIR folders, STS / pair-classification files, labelled text files, parallel text files,
// and held-out splits of workbench datasets. Every parse problem is a one-line UserError naming the file,
// the line and the fix.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Example, Split } from '../../shared/domain';
import { FIXED_INSTRUCTIONS } from '../../shared/domain';
import { UserError } from '../errors';
import type { Store } from '../store';
import type { Qrels } from './metrics/retrieval';
import { documentText } from './prepare';
import type {
  BitextTask,
  ClassificationTask,
  ClusteringTask,
  EvalTask,
  LabelledText,
  PairClassificationTask,
  RetrievalTask,
  StsTask,
  TextItem,
} from './tasks';

const readText = (file: string, what: string): string => {
  if (!fs.existsSync(file)) throw new UserError(`${file}: ${what} not found; check the path`);
  if (fs.statSync(file).isDirectory())
    throw new UserError(`${file}: is a folder, expected the ${what}; give the file's path`);
  const s = fs.readFileSync(file, 'utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
};

const lines = (s: string) => s.split(/\r?\n/);

/** Task names are file names in results: keep them to safe characters. */
export const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'task';

/** A readable default name from a path: its last two meaningful components ("xquad/beir/en" → "xquad-en"). */
export function nameFromPath(p: string): string {
  const parts = path
    .resolve(p)
    .split(path.sep)
    .filter((x) => x && !['beir', 'original', 'data'].includes(x.toLowerCase()))
    .map((x) => x.replace(/\.(jsonl|json|tsv|csv|txt)$/i, ''));
  return safeName(parts.slice(-2).join('-'));
}

/**
 * RFC 4180-style parser for one delimiter (quotes on); returns rows of fields. Used for SIB-200 (tab,
 * quoted) and stsb-multi-mt (comma, quoted).
 */
export function parseDelimited(text: string, delim: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let atStart = true;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && atStart) {
      quoted = true;
      atStart = false;
      i++;
      continue;
    }
    if (c === delim) {
      row.push(field);
      field = '';
      atStart = true;
      i++;
      continue;
    }
    if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      atStart = true;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c;
    atStart = false;
    i++;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** JSON lines with their 1-based line numbers; `.gz` files (BEIR downloads ship some) are gunzipped. */
function readJsonlLines(file: string, what: string): { row: Record<string, unknown>; line: number }[] {
  let text: string;
  if (file.endsWith('.gz')) {
    if (!fs.existsSync(file)) throw new UserError(`${file}: ${what} not found; check the path`);
    try {
      text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
    } catch {
      throw new UserError(`${file}: not a valid gzip file; re-download it or give the .jsonl`);
    }
  } else text = readText(file, what);
  const out: { row: Record<string, unknown>; line: number }[] = [];
  lines(text).forEach((l, i) => {
    if (!l.trim()) return;
    try {
      out.push({ row: JSON.parse(l), line: i + 1 });
    } catch {
      throw new UserError(`${file}:${i + 1}: not valid JSON; each line must be one JSON object`);
    }
  });
  return out;
}

function readJsonl(file: string, what: string): Record<string, unknown>[] {
  return readJsonlLines(file, what).map((r) => r.row);
}

/** `name.jsonl`, else `name.jsonl.gz` (the first that exists; the plain name for the error otherwise). */
function jsonlOrGz(dir: string, name: string): string {
  const plain = path.join(dir, `${name}.jsonl`);
  const gz = `${plain}.gz`;
  return !fs.existsSync(plain) && fs.existsSync(gz) ? gz : plain;
}

// ---------------------------------------------------------------- BEIR

export interface BeirOptions {
  split?: string;
  name?: string;
  instruction?: string;
  ignoreIdenticalIds?: boolean;
  languages?: string[];
  /** Keep only the first N queries (in qrels order) — for quick runs and tests. */
  maxQueries?: number;
  /** Reranking: read each query's candidates from top_ranked/{split}.tsv or top_ranked.jsonl. */
  rerank?: boolean;
}

/**
 * Reranking candidates (MTEB v2 `top_ranked`): `top_ranked/{split}.tsv` with rows query-id<TAB>corpus-id
 * (header optional), or `top_ranked.jsonl` with {"query-id", "corpus-ids": [...]}.
 */
export function readTopRanked(
  dir: string,
  split: string,
  queries: Set<string>,
  docs: Set<string>,
): Map<string, string[]> {
  const tsv = path.join(dir, 'top_ranked', `${split}.tsv`);
  const jsonl = path.join(dir, 'top_ranked.jsonl');
  const out = new Map<string, string[]>();
  const add = (file: string, line: number, q: string, d: string) => {
    if (!docs.has(d))
      throw new UserError(`${file}:${line}: corpus id "${d}" is not in the corpus; fix the candidates file`);
    if (!queries.has(q)) return; // a query without qrels is not evaluated
    out.set(q, [...(out.get(q) ?? []), d]);
  };
  if (fs.existsSync(tsv)) {
    lines(readText(tsv, 'top_ranked file')).forEach((l, i) => {
      if (!l.trim()) return;
      const f = l.split('\t');
      if (i === 0 && f[0] === 'query-id') return;
      if (f.length < 2) throw new UserError(`${tsv}:${i + 1}: expected "query-id<TAB>corpus-id"`);
      add(tsv, i + 1, f[0], f[1]);
    });
  } else if (fs.existsSync(jsonl)) {
    readJsonl(jsonl, 'top_ranked file').forEach((r, i) => {
      const ids = r['corpus-ids'];
      if (typeof r['query-id'] !== 'string' || !Array.isArray(ids))
        throw new UserError(`${jsonl}:${i + 1}: expected {"query-id": str, "corpus-ids": [str, ...]}`);
      for (const d of ids) add(jsonl, i + 1, r['query-id'], String(d));
    });
  } else
    throw new UserError(
      `${dir}: reranking needs top_ranked/${split}.tsv or top_ranked.jsonl with each query's candidates`,
    );
  for (const q of queries)
    if (!out.has(q))
      throw new UserError(
        `${dir}: query "${q}" has no reranking candidates; list them in the top_ranked file`,
      );
  return out;
}

/**
 * BEIR folder: corpus.jsonl, queries.jsonl (either may be .jsonl.gz), qrels/{split}.tsv (EVALUATION.md §1.9).
 * Checked here, before any model loads: a corpus id repeated with a different text is refused naming
 * file:line; an exact repeat is kept once (BEIR's loader keeps one) with a warning. A qrels doc missing from
 * the corpus stays in the qrels, so it counts in R (relevant docs) as it does for pytrec_eval, which MTEB's
 * RetrievalEvaluator gives the qrels unfiltered; it is warned about, since it caps recall below 1.
 */
export function loadBeir(dir: string, opts: BeirOptions = {}): RetrievalTask {
  const split = opts.split ?? 'test';
  const corpusFile = jsonlOrGz(dir, 'corpus');
  const queriesFile = jsonlOrGz(dir, 'queries');
  const qrelsFile = path.join(dir, 'qrels', `${split}.tsv`);
  const warnings: string[] = [];
  const corpus: TextItem[] = [];
  const seen = new Map<string, { line: number; text: string }>();
  const repeats: number[] = [];
  for (const { row: r, line } of readJsonlLines(corpusFile, 'BEIR corpus')) {
    if (r._id === undefined) throw new UserError(`${corpusFile}:${line}: missing "_id"`);
    const text = documentText(String(r.title ?? ''), String(r.text ?? ''));
    const id = String(r._id);
    const first = seen.get(id);
    if (first) {
      if (first.text !== text)
        throw new UserError(
          `${corpusFile}:${line}: corpus id "${id}" repeats line ${first.line} with a different text; give each document its own id`,
        );
      repeats.push(line);
      continue;
    }
    seen.set(id, { line, text });
    corpus.push({ id, text });
  }
  if (repeats.length)
    warnings.push(
      `${corpusFile}: ${repeats.length} exact duplicate line${repeats.length === 1 ? '' : 's'} kept once (first at ${corpusFile}:${repeats[0]})`,
    );
  if (corpus.length === 0)
    throw new UserError(`${corpusFile}: the corpus is empty; a retrieval task needs documents`);
  const qtext = new Map<string, string>();
  for (const { row: r, line } of readJsonlLines(queriesFile, 'BEIR queries')) {
    if (r._id === undefined) throw new UserError(`${queriesFile}:${line}: missing "_id"`);
    qtext.set(String(r._id), String(r.text ?? ''));
  }
  const qrels = readQrels(qrelsFile);
  const docIds = new Set(corpus.map((d) => d.id));
  let missing = 0;
  const missingQueries = new Set<string>();
  let example = '';
  for (const [q, docs] of qrels) {
    if (!qtext.has(q))
      throw new UserError(
        `${qrelsFile}: query id "${q}" is not in ${queriesFile}; fix the qrels or the queries file`,
      );
    for (const d of docs.keys())
      if (!docIds.has(d)) {
        missing++;
        missingQueries.add(q);
        example ||= `"${d}" (query "${q}")`;
      }
  }
  if (missing)
    warnings.push(
      `${qrelsFile}: ${missing} qrels of ${missingQueries.size} queries name docs not in ${corpusFile} (e.g. ${example}); they count as relevant and never retrieved, as in pytrec_eval / MTEB`,
    );
  // BEIR keeps only queries that appear in the qrels.
  let qids = [...qrels.keys()];
  if (opts.maxQueries !== undefined) qids = qids.slice(0, opts.maxQueries);
  const keep = new Set(qids);
  for (const q of [...qrels.keys()]) if (!keep.has(q)) qrels.delete(q);
  const candidates = opts.rerank ? readTopRanked(dir, split, new Set(qids), docIds) : undefined;
  return {
    type: candidates ? 'Reranking' : 'Retrieval',
    candidates,
    ...taskMeta(dir, opts),
    corpus,
    queries: qids.map((id) => ({ id, text: qtext.get(id)! })),
    qrels,
    ignoreIdenticalIds: opts.ignoreIdenticalIds,
    ...(warnings.length ? { warnings } : {}),
  };
}

export function readQrels(file: string): Qrels {
  const qrels: Qrels = new Map();
  lines(readText(file, 'qrels file')).forEach((l, i) => {
    if (!l.trim()) return;
    const f = l.split('\t');
    if (i === 0 && !/^-?\d+$/.test(f[2]?.trim() ?? '')) return; // header "query-id corpus-id score"
    if (f.length < 3)
      throw new UserError(
        `${file}:${i + 1}: expected "query-id<TAB>corpus-id<TAB>score", got ${f.length} field(s)`,
      );
    const g = Number(f[2].trim());
    if (!Number.isInteger(g))
      throw new UserError(`${file}:${i + 1}: score "${f[2]}" is not an integer grade`);
    let m = qrels.get(f[0]);
    if (!m) {
      m = new Map();
      qrels.set(f[0], m);
    }
    m.set(f[1], g);
  });
  return qrels;
}

// ---------------------------------------------------------------- pair files (STS, pair classification)

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

export interface FileTaskOptions {
  name?: string;
  split?: string;
  languages?: string[];
  instruction?: string;
  limit?: number;
}

/** The source's own languages (FLORES codes, subset pairs), else the one a path component names. */
function inferLanguages(source: string, own?: () => string[]): string[] {
  const l = own?.() ?? [];
  return l.length ? l : languagesFromPath(source);
}

/**
 * What every task read from a file or folder carries besides its data: the name (the file's unless given),
 * split, subset, languages, the source path and the instruction.
 */
function taskMeta(
  source: string,
  opts: Pick<FileTaskOptions, 'name' | 'split' | 'languages' | 'instruction'>,
  dflt: { nameFrom?: string; languages?: () => string[] } = {},
) {
  return {
    name: opts.name ?? nameFromPath(dflt.nameFrom ?? source),
    split: opts.split ?? 'test',
    hfSubset: 'default',
    languages: opts.languages ?? inferLanguages(source, dflt.languages),
    source: path.resolve(source),
    instruction: opts.instruction,
  };
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

// ISO 639-1 → MTEB's ISO 639-3 + script tags for the languages of the public multilingual sets (SemEval
// STS17/STS22, stsb-multi-mt, XQuAD), so their results carry "ara-Arab" style languages; others: --language.
const LANG_TAGS: Record<string, string> = {
  ar: 'ara-Arab',
  de: 'deu-Latn',
  en: 'eng-Latn',
  es: 'spa-Latn',
  fr: 'fra-Latn',
  it: 'ita-Latn',
  ko: 'kor-Hang',
  nl: 'nld-Latn',
  tr: 'tur-Latn',
  pl: 'pol-Latn',
  pt: 'por-Latn',
  ru: 'rus-Cyrl',
  zh: 'cmn-Hans',
  ja: 'jpn-Jpan',
  fa: 'fas-Arab',
  hi: 'hin-Deva',
  id: 'ind-Latn',
  sv: 'swe-Latn',
  da: 'dan-Latn',
  fi: 'fin-Latn',
  cs: 'ces-Latn',
  el: 'ell-Grek',
  he: 'heb-Hebr',
  th: 'tha-Thai',
  vi: 'vie-Latn',
  uk: 'ukr-Cyrl',
  ro: 'ron-Latn',
  hu: 'hun-Latn',
  bg: 'bul-Cyrl',
  ca: 'cat-Latn',
};

/** MTEB language tags of a subset like "en-de": ["eng-Latn", "deu-Latn"]. */
function pairLanguages(pair: string): string[] {
  return [...new Set(pair.split('-').flatMap((c) => (LANG_TAGS[c] ? [LANG_TAGS[c]] : [])))];
}

/**
 * A language named by the path (XQuAD's `beir/en` folder, stsb-multi-mt's `stsb-de-test.csv`): the one
 * 2-letter code among the last component's tokens or the folder names; none when absent or ambiguous.
 */
export function languagesFromPath(p: string): string[] {
  const parts = path.resolve(p).split(path.sep).slice(-3);
  const tokens = parts.flatMap((x, i) => (i === parts.length - 1 ? x.split(/[-_.]/) : [x]));
  const hits = [...new Set(tokens.filter((t) => LANG_TAGS[t]))];
  return hits.length === 1 ? [LANG_TAGS[hits[0]]] : [];
}

const SEMEVAL_INPUT = /^STS\.input\.(.+)\.txt$/;

/** The gold file of `STS.input.X.txt`: `STS.gs.X.txt` beside it, or in a sibling folder (STS2017.gs/). */
function semEvalGold(input: string, key: string): string {
  const dir = path.dirname(input);
  const name = `STS.gs.${key}.txt`;
  const candidates = [
    path.join(dir, name),
    ...fs
      .readdirSync(path.dirname(dir))
      .map((d) => path.join(path.dirname(dir), d, name))
      .filter((f) => f !== path.join(dir, name)),
  ];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found)
    throw new UserError(`${input}: no ${name} beside it or in a sibling folder; put the gold file there`);
  return found;
}

function readSemEvalPairs(input: string, key: string) {
  const gold = semEvalGold(input, key);
  const inLines = lines(readText(input, 'SemEval STS input'));
  const gsLines = lines(readText(gold, 'SemEval STS gold'));
  while (inLines.length && inLines.at(-1) === '') inLines.pop();
  while (gsLines.length && gsLines.at(-1) === '') gsLines.pop();
  if (gsLines.length > inLines.length)
    throw new UserError(
      `${gold} has ${gsLines.length} lines but ${input} has ${inLines.length}; they must be line-aligned`,
    );
  const pairs: { s1: string; s2: string; score: number }[] = [];
  inLines.forEach((l, i) => {
    const g = (gsLines[i] ?? '').trim();
    // The official scorer skips pairs without a gold score (empty gs line).
    if (!g) return;
    const score = Number(g);
    if (!Number.isFinite(score))
      throw new UserError(`${gold}:${i + 1}: score "${g}" is not a number; fix that line`);
    const f = l.split('\t');
    if (f.length < 2) throw new UserError(`${input}:${i + 1}: expected "sentence1<TAB>sentence2"`);
    pairs.push({ s1: f[0], s2: f[1], score });
  });
  if (!pairs.length) throw new UserError(`${input}: no scored sentence pairs (is ${gold} empty?)`);
  return pairs;
}

/** True for an `STS.input.*.txt` file or a folder holding some (the official SemEval STS layout). */
export function isSemEvalSts(p: string): boolean {
  if (fs.existsSync(p) && fs.statSync(p).isDirectory())
    return fs.readdirSync(p).some((f) => SEMEVAL_INPUT.test(f));
  return SEMEVAL_INPUT.test(path.basename(p));
}

/**
 * The official SemEval STS layout: `STS.input.X.txt` (sentence1<TAB>sentence2[<TAB>…]) with `STS.gs.X.txt`
 * (one score per line, empty = unscored). A file is one task; a folder of language-pair files (STS17's
 * `track1.ar-ar`, `track4a.en-es`) is one task with a subset per pair (hf_subset "ar-ar", languages
 * ["ara-Arab"]), a folder of domain files (STS12–16's headlines, …) one task of all pairs, as MTEB has them.
 */
export function loadSemEvalSts(
  p: string,
  opts: FileTaskOptions & { minScore?: number; maxScore?: number } = {},
): StsTask[] {
  const isDir = fs.statSync(p).isDirectory();
  const files = isDir
    ? fs
        .readdirSync(p)
        .filter((f) => SEMEVAL_INPUT.test(f))
        .sort()
        .map((f) => path.join(p, f))
    : [p];
  const keyOf = (f: string) => (SEMEVAL_INPUT.exec(path.basename(f)) as RegExpExecArray)[1];
  const pairOf = (key: string) => /(?:^|\.)([a-z]{2,3}-[a-z]{2,3})$/.exec(key)?.[1] ?? null;
  const base = { type: 'STS' as const, minScore: opts.minScore ?? 0, maxScore: opts.maxScore ?? 5 };
  const limit = (x: StsTask['pairs']) => (opts.limit !== undefined ? x.slice(0, opts.limit) : x);
  if (files.every((f) => pairOf(keyOf(f))))
    return files.map((f) => {
      const pairs = limit(readSemEvalPairs(f, keyOf(f)));
      const sub = pairOf(keyOf(f)) as string;
      const meta = taskMeta(f, opts, {
        nameFrom: isDir ? p : path.dirname(f),
        languages: () => pairLanguages(sub),
      });
      return { ...base, ...meta, hfSubset: sub, pairs };
    });
  const pairs = limit(files.flatMap((f) => readSemEvalPairs(f, keyOf(f))));
  const meta = taskMeta(p, opts, { nameFrom: isDir ? p : path.dirname(p) });
  return [{ ...base, ...meta, pairs }];
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

// ---------------------------------------------------------------- labelled texts

const TEXT_KEYS = ['text', 'sentence', 'input_text', 'document'];
const LABEL_KEYS = ['label', 'category', 'topic', 'class'];

/** Labelled texts: header TSV/CSV with text + label columns (SIB-200: index_id, category, text; quoted) or JSONL. */
export function loadLabelled(file: string): LabelledText[] {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl') {
    return readJsonl(file, 'labelled text file').map((r, i) => {
      const names = Object.keys(r);
      const t = names.find((n) => TEXT_KEYS.includes(n.toLowerCase()));
      const l = names.find((n) => LABEL_KEYS.includes(n.toLowerCase()));
      if (!t || !l) throw new UserError(`${file}:${i + 1}: expected fields "text" and "label"`);
      return { text: String(r[t]), label: String(r[l]) };
    });
  }
  const text = readText(file, 'labelled text file');
  const delim = (lines(text)[0] ?? '').includes('\t') ? '\t' : ',';
  const rows = parseDelimited(text, delim);
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  const t = header.findIndex((h) => TEXT_KEYS.includes(h));
  const l = header.findIndex((h) => LABEL_KEYS.includes(h));
  if (t < 0 || l < 0)
    throw new UserError(
      `${file}: the header must name a text column (${TEXT_KEYS.join('/')}) and a label column (${LABEL_KEYS.join('/')})`,
    );
  return rows.slice(1).map((r, i) => {
    if (r[l] === undefined || r[t] === undefined || r[l].trim() === '')
      throw new UserError(`${file}:${i + 2}: missing text or label`);
    return { text: r[t], label: r[l].trim() };
  });
}

/** "eng_Latn" → "eng-Latn" when a path component looks like a FLORES language code. */
const floresLang = (p: string) => {
  const m = path.resolve(p).match(/([a-z]{3})_([A-Z][a-z]{3})/);
  return m ? [`${m[1]}-${m[2]}`] : [];
};

/** Classification: a folder with train.{tsv,jsonl} and test.{tsv,jsonl} (SIB-200), or "TRAIN,TEST". */
export function loadClassification(
  spec: string,
  opts: FileTaskOptions & { samplesPerLabel?: number; nExperiments?: number } = {},
): ClassificationTask {
  let trainFile: string;
  let testFile: string;
  const split = opts.split ?? 'test';
  if (spec.includes(',')) [trainFile, testFile] = spec.split(',');
  else {
    const find = (s: string) =>
      ['tsv', 'jsonl', 'csv'].map((e) => path.join(spec, `${s}.${e}`)).find((f) => fs.existsSync(f));
    const tr = find('train');
    const te = find(split);
    if (!tr || !te)
      throw new UserError(
        `${spec}: expected train.tsv and ${split}.tsv (or .jsonl) in the folder, or give "TRAIN_FILE,TEST_FILE"`,
      );
    trainFile = tr;
    testFile = te;
  }
  const train = loadLabelled(trainFile);
  let test = loadLabelled(testFile);
  if (opts.limit !== undefined) test = test.slice(0, opts.limit);
  if (!train.length || !test.length)
    throw new UserError(`${spec}: the train and test files need at least one row each`);
  return {
    type: 'Classification',
    ...taskMeta(testFile, opts, {
      nameFrom: spec.includes(',') ? testFile : spec,
      languages: () => floresLang(testFile),
    }),
    train,
    test,
    samplesPerLabel: opts.samplesPerLabel,
    nExperiments: opts.nExperiments,
  };
}

/** Clustering: one labelled file = one set (legacy) or the pool for the bootstrap protocol. */
export function loadClustering(
  file: string,
  opts: FileTaskOptions & { protocol?: 'legacy' | 'bootstrap'; bootstrap?: ClusteringTask['bootstrap'] } = {},
): ClusteringTask {
  let rows = loadLabelled(file);
  if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
  if (rows.length < 2) throw new UserError(`${file}: clustering needs at least two labelled texts`);
  return {
    type: 'Clustering',
    ...taskMeta(file, opts, { languages: () => floresLang(file) }),
    sets: [rows],
    protocol: opts.protocol ?? 'legacy',
    bootstrap: opts.bootstrap,
  };
}

const SCRIPTS: [string, RegExp][] = [
  ['Jpan', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ['Hang', /\p{Script=Hangul}/u],
  ['Hani', /\p{Script=Han}/u],
  ['Cyrl', /\p{Script=Cyrillic}/u],
  ['Arab', /\p{Script=Arabic}/u],
  ['Deva', /\p{Script=Devanagari}/u],
  ['Grek', /\p{Script=Greek}/u],
  ['Hebr', /\p{Script=Hebrew}/u],
  ['Thai', /\p{Script=Thai}/u],
  ['Geor', /\p{Script=Georgian}/u],
  ['Armn', /\p{Script=Armenian}/u],
  ['Beng', /\p{Script=Bengali}/u],
  ['Taml', /\p{Script=Tamil}/u],
  ['Telu', /\p{Script=Telugu}/u],
  ['Mlym', /\p{Script=Malayalam}/u],
  ['Ethi', /\p{Script=Ethiopic}/u],
  ['Khmr', /\p{Script=Khmer}/u],
  ['Tfng', /\p{Script=Tifinagh}/u],
  // Last: names like "Tom" appear in Latin inside other scripts' sentences.
  ['Latn', /\p{Script=Latin}/u],
];

/** The dominant script of some lines (ISO 15924), for MTEB's "eng-Latn" language tags; null if unsure. */
export function dominantScript(texts: string[]): string | null {
  const votes = new Map<string, number>();
  for (const t of texts.slice(0, 200)) {
    // SCRIPTS lists kana (Jpan) before Han, so Japanese lines mixing both count as Jpan.
    const hit = SCRIPTS.find(([, re]) => re.test(t));
    if (hit) votes.set(hit[0], (votes.get(hit[0]) ?? 0) + 1);
  }
  const best = [...votes.entries()].sort((x, y) => y[1] - x[1])[0];
  return best && best[1] >= Math.min(texts.length, 200) / 2 ? best[0] : null;
}

/** Bitext: two line-aligned files (Tatoeba: tatoeba.xxx-eng.xxx is sentence1, tatoeba.xxx-eng.eng sentence2). */
export function loadBitext(srcFile: string, tgtFile: string, opts: FileTaskOptions = {}): BitextTask {
  const read = (f: string) => {
    const ls = lines(readText(f, 'parallel text file'));
    if (ls.length && ls[ls.length - 1] === '') ls.pop();
    return ls;
  };
  let s1 = read(srcFile);
  let s2 = read(tgtFile);
  if (s1.length !== s2.length)
    throw new UserError(
      `${srcFile} has ${s1.length} lines but ${tgtFile} has ${s2.length}; bitext files must be line-aligned`,
    );
  if (s1.length === 0) throw new UserError(`${srcFile}: no sentences`);
  if (opts.limit !== undefined) {
    s1 = s1.slice(0, opts.limit);
    s2 = s2.slice(0, opts.limit);
  }
  const ext = (f: string) => path.extname(f).slice(1);
  return {
    type: 'BitextMining',
    name: opts.name ?? safeName(path.basename(srcFile).replace(/\.[^.]+$/, '')),
    split: opts.split ?? 'test',
    hfSubset: `${ext(srcFile)}-${ext(tgtFile)}`,
    languages:
      opts.languages ??
      [
        [ext(srcFile), s1],
        [ext(tgtFile), s2],
      ]
        .filter(([code]) => /^[a-z]{3}$/.test(code as string))
        .map(([code, lines]) => {
          const script = dominantScript(lines as string[]);
          return script ? `${code}-${script}` : (code as string);
        }),
    source: `${path.resolve(srcFile)},${path.resolve(tgtFile)}`,
    instruction: opts.instruction,
    sentence1: s1,
    sentence2: s2,
  };
}

// ---------------------------------------------------------------- workbench datasets

const num = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};

/**
 * A held-out split of a workbench dataset as tasks, one per kind present (rejected examples skipped):
 * short-long / short-short / long-long → retrieval (positives and hard negatives form the corpus);
 * sts → STS (S1~S2 = high_score, S1~S3 = low_score); bitext → bitext mining (S1 vs S2);
 * long-short → classification (train from the train split, scored on this split).
 */
export function loadDatasetTasks(store: Store, name: string, split: Split = 'test'): EvalTask[] {
  const ds = store.datasets.get(name);
  const all = (s: Split) => [
    ...store.examples.iterate(ds.id, { split: s, status: ['accepted', 'unreviewed'] }),
  ];
  const rows = all(split);
  if (rows.length === 0)
    throw new UserError(
      `dataset "${name}" has no ${split} examples; assign a split first (embedsmith datasets split)`,
    );
  const byKind = new Map<string, Example[]>();
  for (const e of rows) byKind.set(e.kind, [...(byKind.get(e.kind) ?? []), e]);
  const tasks: EvalTask[] = [];
  const base = (kind: string) => ({
    name: safeName(`${name}-${kind}`),
    split,
    hfSubset: 'default',
    languages: [],
    source: `dataset:${name}:${split}`,
  });
  for (const [kind, ex] of byKind) {
    if (kind === 'short-long' || kind === 'short-short' || kind === 'long-long') {
      const docId = new Map<string, string>();
      const corpus: TextItem[] = [];
      const doc = (text: string) => {
        let id = docId.get(text);
        if (!id) {
          id = `d${corpus.length}`;
          docId.set(text, id);
          corpus.push({ id, text });
        }
        return id;
      };
      const qrels: Qrels = new Map();
      const queries = ex.map((e) => {
        const qid = `q${e.id}`;
        const m = new Map<string, number>([[doc(e.positive), 1]]);
        if (e.negative) {
          const n = doc(e.negative);
          if (!m.has(n)) m.set(n, 0);
        }
        qrels.set(qid, m);
        return { id: qid, text: e.query, instruction: e.instruction ?? undefined };
      });
      tasks.push({ type: 'Retrieval', ...base(kind), corpus, queries, qrels });
    } else if (kind === 'sts') {
      const pairs: StsTask['pairs'] = [];
      for (const e of ex) {
        const hi = num(e.extras.high_score);
        const lo = num(e.extras.low_score);
        if (hi !== null) pairs.push({ s1: e.query, s2: e.positive, score: hi });
        if (lo !== null && e.negative) pairs.push({ s1: e.query, s2: e.negative, score: lo });
      }
      if (pairs.length < 2) continue;
      const scores = pairs.map((p) => p.score);
      tasks.push({
        type: 'STS',
        ...base(kind),
        instruction: FIXED_INSTRUCTIONS.sts,
        pairs,
        minScore: Math.min(...scores),
        maxScore: Math.max(...scores),
      });
    } else if (kind === 'bitext') {
      tasks.push({
        type: 'BitextMining',
        ...base(kind),
        instruction: FIXED_INSTRUCTIONS.bitext,
        sentence1: ex.map((e) => e.query),
        sentence2: ex.map((e) => e.positive),
      });
    } else if (kind === 'long-short') {
      const train = all('train')
        .filter((e) => e.kind === 'long-short')
        .map((e) => ({ text: e.query, label: e.positive }));
      if (!train.length) continue;
      tasks.push({
        type: 'Classification',
        ...base(kind),
        instruction: ex[0].instruction ?? undefined,
        train,
        test: ex.map((e) => ({ text: e.query, label: e.positive })),
      });
    }
  }
  if (!tasks.length)
    throw new UserError(
      `dataset "${name}" (${split}) yields no evaluable task; it needs retrieval, sts, bitext or labelled long-short examples`,
    );
  return tasks;
}
