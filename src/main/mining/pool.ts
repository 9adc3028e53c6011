// The candidate pool of a mining run: the dataset's own positives and negatives, or an imported corpus
// (a JSONL or TXT file, or a BEIR folder). Texts are deduplicated on their normalised form, so an exact
// duplicate of a positive is the same pool row as the positive and is excluded with it.
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors';

/** The duplicate key: NFKC, lower case, whitespace collapsed. */
export const normText = (s: string) => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

export interface Pool {
  texts: string[];
  keys: string[];
  /** normalised key → row */
  index: Map<string, number>;
  source: 'dataset' | 'corpus';
  /** Where it came from: "dataset:NAME" or the corpus path. */
  origin: string;
  /** Input texts folded into an earlier row as exact (normalised) duplicates. */
  duplicates: number;
}

export class PoolBuilder {
  readonly texts: string[] = [];
  readonly keys: string[] = [];
  readonly index = new Map<string, number>();
  duplicates = 0;

  add(text: string): number {
    const key = normText(text);
    if (!key) return -1;
    const at = this.index.get(key);
    if (at !== undefined) {
      this.duplicates++;
      return at;
    }
    this.index.set(key, this.texts.length);
    this.texts.push(text);
    this.keys.push(key);
    return this.texts.length - 1;
  }

  build(source: Pool['source'], origin: string): Pool {
    return {
      texts: this.texts,
      keys: this.keys,
      index: this.index,
      source,
      origin,
      duplicates: this.duplicates,
    };
  }
}

const TEXT_FIELDS = ['text', 'document', 'passage', 'content', 'positive', 'sentence'];

/** One text per JSONL line: a JSON string, or an object with text (+ title, BEIR-style) or a known field. */
function textOfLine(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const field = TEXT_FIELDS.find((f) => typeof o[f] === 'string');
    if (field) {
      const title = typeof o.title === 'string' ? o.title : '';
      const text = o[field] as string;
      // BEIR/MTEB: (title + " " + text).strip() when there is a title.
      return title ? `${title} ${text}`.trim() : text;
    }
  }
  throw new UserError(
    `${where}: no text; each line must be a JSON string or an object with one of ${TEXT_FIELDS.join(', ')}`,
  );
}

/** Reads --corpus: FILE.jsonl, FILE.txt (one text per line) or a BEIR folder (its corpus.jsonl). */
export function loadCorpus(p: string): Pool {
  const abs = path.resolve(p);
  if (!fs.existsSync(abs))
    throw new UserError(`--corpus ${p}: not found; give a JSONL or TXT file or a BEIR folder`);
  let file = abs;
  if (fs.statSync(abs).isDirectory()) {
    file = path.join(abs, 'corpus.jsonl');
    if (!fs.existsSync(file))
      throw new UserError(
        `--corpus ${p}: the folder has no corpus.jsonl; give a BEIR folder or a JSONL/TXT file`,
      );
  }
  const b = new PoolBuilder();
  let raw = fs.readFileSync(file, 'utf8');
  if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
  const jsonl = /\.jsonl?$/i.test(file);
  raw.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    if (!jsonl) {
      b.add(line);
      return;
    }
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new UserError(`${file}:${i + 1}: not valid JSON; each line must be one JSON value`);
    }
    b.add(textOfLine(v, `${file}:${i + 1}`));
  });
  if (!b.texts.length) throw new UserError(`--corpus ${p}: no texts in ${file}; the candidate pool is empty`);
  return b.build('corpus', abs);
}
