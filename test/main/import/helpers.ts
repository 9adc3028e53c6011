import fs from 'node:fs';
import path from 'node:path';
import type { Example } from '../../../src/shared/domain';
import { Store } from '../../../src/main/store';
import { tmpDir } from '../../helpers/tmp';

/** A store in a fresh temp dir, plus the dir for input/output files. */
export function freshStore() {
  const dir = tmpDir();
  const store = Store.open(path.join(dir, 'embedsmith.db'));
  return { dir, store, rejectedDir: path.join(dir, 'imports') };
}

export const writeJsonl = (file: string, objs: unknown[]) =>
  fs.writeFileSync(file, `${objs.map((o) => JSON.stringify(o)).join('\n')}\n`);

export const readJsonl = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

/** Row content without the columns a database assigns (ids, timestamps). */
export function content(e: Example) {
  const { id: _id, datasetId: _d, createdAt: _c, updatedAt: _u, ...rest } = e;
  return rest;
}

export function rowsOf(store: Store, name: string) {
  const d = store.datasets.get(name);
  return [...store.examples.iterate(d.id)].map(content);
}

/** Canonical paper objects of every kind, as the paper layout export writes them. */
export const PAPER = [
  {
    kind: 'short-long',
    language: 'en',
    user_query: 'how do magnets work',
    positive_document: 'Magnets attract iron because of aligned electron spins.',
    hard_negative_document: 'Iron is a metal mined in Australia.',
    instruction: 'Given a physics question, retrieve documents that answer it',
    status: 'accepted',
    reject_reason: null,
    attributes: { query_type: 'common', num_words: '50' },
  },
  {
    kind: 'long-short',
    language: 'de',
    input_text: 'Der Film war lang, aber die Musik war großartig.',
    label: 'positiv',
    misleading_label: 'negativ',
    instruction: 'Classify the sentiment of a movie review',
    status: 'rejected',
    reject_reason: 'label_leak',
    attributes: {},
  },
  {
    kind: 'short-short',
    language: 'fr',
    input: 'chat noir',
    positive_document: 'un félin sombre',
    instruction: 'Retrieve paraphrases',
    status: 'unreviewed',
    reject_reason: null,
    attributes: {},
    split: 'dev',
  },
  {
    kind: 'long-long',
    language: 'en',
    input: 'A long abstract about proteins.',
    positive_document: 'A long paper on protein folding.',
    instruction: 'Retrieve related papers',
    status: 'accepted',
    reject_reason: null,
    attributes: {},
    generator_model: 'gpt-4',
    seed: 7,
  },
  {
    kind: 'sts',
    language: 'en',
    S1: 'A cat sleeps on the mat.',
    S2: 'A cat is sleeping on a mat.',
    S3: 'A dog sleeps on the mat.',
    high_score: 4.5,
    low_score: 2.5,
    instruction: 'Retrieve semantically similar text.',
    status: 'accepted',
    reject_reason: null,
    attributes: { unit: 'sentence' },
  },
  {
    kind: 'bitext',
    src_lang: 'en',
    tgt_lang: 'ja',
    S1: 'Two apples.',
    S2: 'りんご二つ。',
    S3: 'りんご三つ。',
    high_score: 5,
    low_score: 1.5,
    instruction: 'Retrieve parallel sentences.',
    status: 'accepted',
    reject_reason: null,
    attributes: {},
    extras: { note: 'free extra' },
    source_url: 'https://example.org/x',
  },
];
