import fs from 'node:fs';
import path from 'node:path';
import type { NewExample, Split } from '../../shared/domain';
import { UserError } from '../errors';
import type { LineDefaults } from './layouts';
import { fileLines } from './lines';
import type { ImportRecord } from './records';

const SPLIT_OF_QRELS: Record<string, Split> = { train: 'train', dev: 'dev', validation: 'dev', test: 'test' };

/** True when a folder looks like a BEIR dataset (corpus.jsonl or queries.jsonl or qrels/). */
export const looksLikeBeir = (dir: string) =>
  ['corpus.jsonl', 'queries.jsonl', 'qrels'].some((f) => fs.existsSync(path.join(dir, f)));

async function* lines(file: string) {
  for await (const l of fileLines(file).lines) if (l.invalidUtf8 || l.text.trim()) yield l;
}

interface Qrel {
  where: string;
  raw: string;
  qid: string;
  cid: string;
  score: number;
  split: Split | null;
}

/**
 * A BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv with header `query-id corpus-id score`) as import
 * records: one example per (query, document) with grade >= 1, the document being `(title + " " + text).strip()`
 * as BEIR's own loaders build it. Only the documents and queries the qrels name are held in memory.
 */
export function beirSource(
  dir: string,
  d: LineDefaults,
): { total: () => number | null; records: AsyncIterable<ImportRecord> } {
  const need = (f: string) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p))
      throw new UserError(
        `${dir}: BEIR folder has no ${f}; a BEIR dataset needs corpus.jsonl, queries.jsonl and qrels/*.tsv`,
      );
    return p;
  };
  const corpusFile = need('corpus.jsonl');
  const queriesFile = need('queries.jsonl');
  const qrelsDir = path.join(dir, 'qrels');
  const qrelFiles = fs.existsSync(qrelsDir)
    ? fs
        .readdirSync(qrelsDir)
        .filter((f) => f.endsWith('.tsv'))
        .sort()
        .map((f) => path.join(qrelsDir, f))
    : [];
  if (!qrelFiles.length)
    throw new UserError(
      `${dir}: BEIR folder has no qrels/*.tsv; add qrels/test.tsv (tab-separated, header "query-id corpus-id score") or import a JSONL file instead`,
    );
  let total: number | null = null;
  async function* records(): AsyncGenerator<ImportRecord> {
    const qrels: Qrel[] = [];
    const bad: ImportRecord[] = [];
    for (const f of qrelFiles) {
      const split = SPLIT_OF_QRELS[path.basename(f, '.tsv').toLowerCase()] ?? null;
      for await (const { no, text, invalidUtf8, bytes } of lines(f)) {
        const where = `${f}:${no}`;
        if (invalidUtf8) {
          bad.push({ where, raw: text, rawBytes: bytes, error: 'not valid UTF-8' });
          continue;
        }
        const cols = text.split('\t');
        if (no === 1 && /^query-?id$/i.test(cols[0].trim())) continue;
        const score = Number(cols[2]);
        if (cols.length < 3 || !cols[0] || !cols[1] || !Number.isFinite(score)) {
          bad.push({ where, raw: text, error: 'expected "query-id<TAB>corpus-id<TAB>score"' });
          continue;
        }
        qrels.push({ where, raw: text, qid: cols[0].trim(), cid: cols[1].trim(), score, split });
      }
    }
    total = qrels.length + bad.length;
    yield* bad;
    const cids = new Set(qrels.filter((q) => q.score >= 1).map((q) => q.cid));
    const qids = new Set(qrels.filter((q) => q.score >= 1).map((q) => q.qid));
    const docs = new Map<string, string>();
    const queries = new Map<string, string>();
    const readTexts = async function* (
      file: string,
      ids: Set<string>,
      into: Map<string, string>,
      withTitle: boolean,
    ) {
      for await (const { no, text, invalidUtf8, bytes } of lines(file)) {
        if (invalidUtf8) {
          yield { where: `${file}:${no}`, raw: text, rawBytes: bytes, error: 'not valid UTF-8' };
          continue;
        }
        let o: { _id?: unknown; title?: unknown; text?: unknown };
        try {
          o = JSON.parse(text);
        } catch (e) {
          yield { where: `${file}:${no}`, raw: text, error: `invalid JSON (${(e as Error).message})` };
          continue;
        }
        // Some BEIR exports write numeric ids; qrels ids are text either way.
        if (typeof o === 'object' && o !== null && typeof o._id === 'number') o._id = String(o._id);
        if (typeof o !== 'object' || o === null || typeof o._id !== 'string' || typeof o.text !== 'string') {
          yield { where: `${file}:${no}`, raw: text, error: 'expected {"_id": string, "text": string}' };
          continue;
        }
        if (!ids.has(o._id)) continue;
        const title = withTitle && typeof o.title === 'string' ? o.title : '';
        into.set(o._id, `${title} ${o.text}`.trim());
      }
    };
    yield* readTexts(corpusFile, cids, docs, true);
    yield* readTexts(queriesFile, qids, queries, false);
    for (const q of qrels) {
      if (q.score < 1) {
        yield { where: q.where, raw: q.raw, examples: [] };
        continue;
      }
      const query = queries.get(q.qid);
      const doc = docs.get(q.cid);
      if (!query || !doc) {
        yield {
          where: q.where,
          raw: q.raw,
          error: !query
            ? `query-id "${q.qid}" is not in queries.jsonl (or its text is empty)`
            : `corpus-id "${q.cid}" is not in corpus.jsonl (or its text is empty)`,
        };
        continue;
      }
      const ex: NewExample = {
        kind: d.kind ?? 'short-long',
        language: d.language ?? null,
        query,
        positive: doc,
        status: d.status,
        split: q.split,
        extras: { beir: { query_id: q.qid, corpus_id: q.cid, score: q.score } },
        origin: 'import',
      };
      yield { where: q.where, raw: q.raw, examples: [ex] };
    }
  }
  return { total: () => total, records: records() };
}
