// BEIR folders (corpus, queries, qrels) as retrieval tasks, and MTEB v2 `top_ranked` candidates as
// reranking tasks (EVALUATION.md §1.9).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors';
import type { Qrels } from '../metrics/retrieval';
import { documentText } from '../prepare';
import type { RetrievalTask, TextItem } from '../tasks';
import { taskMeta } from './meta';
import { jsonlOrGz, lines, readJsonl, readJsonlLines, readText } from './read';

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
