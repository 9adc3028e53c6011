// Readers every task source shares: text files (BOM stripped, a folder refused), JSON lines (gzipped or
// not), RFC 4180 delimited text, and the safe task names results are filed under.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { UserError } from '../../errors';

export const readText = (file: string, what: string): string => {
  if (!fs.existsSync(file)) throw new UserError(`${file}: ${what} not found; check the path`);
  if (fs.statSync(file).isDirectory())
    throw new UserError(`${file}: is a folder, expected the ${what}; give the file's path`);
  const s = fs.readFileSync(file, 'utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
};

export const lines = (s: string) => s.split(/\r?\n/);

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
export function readJsonlLines(file: string, what: string): { row: Record<string, unknown>; line: number }[] {
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

export function readJsonl(file: string, what: string): Record<string, unknown>[] {
  return readJsonlLines(file, what).map((r) => r.row);
}

/** `name.jsonl`, else `name.jsonl.gz` (the first that exists; the plain name for the error otherwise). */
export function jsonlOrGz(dir: string, name: string): string {
  const plain = path.join(dir, `${name}.jsonl`);
  const gz = `${plain}.gz`;
  return !fs.existsSync(plain) && fs.existsSync(gz) ? gz : plain;
}
