// Labelled texts (text + label, TSV/CSV/JSONL) as classification and clustering tasks.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors';
import type { ClassificationTask, ClusteringTask, LabelledText } from '../tasks';
import { type FileTaskOptions, floresLang, taskMeta } from './meta';
import { lines, parseDelimited, readJsonl, readText } from './read';

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
