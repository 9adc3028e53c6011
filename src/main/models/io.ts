import fs from 'node:fs';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { UserError } from '../errors';

/** Texts from a .txt (one per line, blank lines skipped) or .jsonl (strings, or objects with `text`). */
export function readTexts(file: string): string[] {
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such input file`);
  const ext = path.extname(file).toLowerCase();
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  // One text per line, empty lines included (row i of the output is line i); only the empty string after
  // a final newline is not a line.
  if (ext === '.txt') return lines.at(-1) === '' ? lines.slice(0, -1) : lines;
  if (ext === '.jsonl') {
    const out: string[] = [];
    lines.forEach((l, i) => {
      if (!l.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        throw new UserError(`${path.basename(file)}:${i + 1}: not valid JSON`);
      }
      const o = v as { text?: unknown; title?: unknown };
      // {"title", "text"} (a BEIR corpus line) joins as the corpus loader does.
      const t =
        typeof v === 'string'
          ? v
          : typeof o?.title === 'string' && o.title && typeof o.text === 'string'
            ? `${o.title} ${o.text}`
            : o?.text;
      if (typeof t !== 'string')
        throw new UserError(`${path.basename(file)}:${i + 1}: expected a string or {"text": …}`);
      out.push(t);
    });
    return out;
  }
  throw new UserError(`${file}: input must be .txt or .jsonl`);
}

/** numpy .npy (format 1.0, little-endian float32, C order). */
export function npyBytes(data: Float32Array, shape: number[]): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // magic(6) + version(2) + len(2) + header + '\n' must be a multiple of 64.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1;
  h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    h,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

export function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const b = fs.readFileSync(file);
  const hl = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + hl).toString('latin1');
  if (!header.includes("'<f4'")) throw new UserError(`${file}: only float32 .npy`);
  const shape = (/\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const raw = b.subarray(10 + hl);
  const data = new Float32Array(raw.length / 4);
  for (let i = 0; i < data.length; i++) data[i] = raw.readFloatLE(i * 4);
  return { shape, data };
}

/** Writes embeddings [n, d] as .npy, .jsonl ({text, embedding}) or .parquet (text, embedding list). */
export function writeEmbeddings(file: string, texts: string[], emb: Float32Array, dim: number): void {
  const ext = path.extname(file).toLowerCase();
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const n = texts.length;
  const row = (i: number) => Array.from(emb.subarray(i * dim, (i + 1) * dim));
  if (ext === '.npy') fs.writeFileSync(file, npyBytes(emb, [n, dim]));
  else if (ext === '.jsonl') {
    const fd = fs.openSync(file, 'w');
    try {
      for (let i = 0; i < n; i++)
        fs.writeSync(fd, `${JSON.stringify({ text: texts[i], embedding: row(i) })}\n`);
    } finally {
      fs.closeSync(fd);
    }
  } else if (ext === '.parquet') {
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'text', data: texts, type: 'STRING' },
        { name: 'embedding', data: Array.from({ length: n }, (_, i) => row(i)) },
      ],
    });
    fs.writeFileSync(file, Buffer.from(buf));
  } else throw new UserError(`${file}: output must be .npy, .jsonl or .parquet`);
}
