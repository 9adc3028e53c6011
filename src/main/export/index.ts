import fs from 'node:fs';
import path from 'node:path';
import { fileWriter, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer';
import type { Kind, ReviewStatus, Split } from '../../shared/domain';
import { UserError, usageError } from '../errors';
import { type ProgressListener, ProgressTracker } from '../jobs/progress';
import type { Store } from '../store';
import type { ExampleFilter } from '../store/examples';
import { EXPORT_LAYOUTS, type ExportLayout, groupFlag, TO_LAYOUT } from './layouts';

export { EXPORT_LAYOUTS, type ExportLayout } from './layouts';
export const EXPORT_FORMATS = ['jsonl', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  out: string;
  format?: ExportFormat;
  layout?: ExportLayout;
  /** Default accepted: only reviewed-and-kept rows leave the workbench unless asked. */
  status?: ReviewStatus | 'all';
  kind?: Kind;
  language?: string;
  split?: Split;
  /** Replace `out` when it exists (CLI --force); otherwise an existing file is refused. */
  overwrite?: boolean;
  onProgress?: ProgressListener;
}

/**
 * Refuses an existing output unless `overwrite`: the one check behind `datasets export --force` and the API's
 * `overwrite: true`. exportDataset also publishes without replacing (a file that appears meanwhile stays).
 */
export function checkExportTarget(out: string, overwrite: boolean | undefined): void {
  if (overwrite || !fs.existsSync(out)) return;
  throw new UserError(
    `${out} already exists; pass --force to replace it (API: overwrite: true) or choose another --out`,
  );
}

export interface ExportResult {
  dataset: string;
  out: string;
  format: ExportFormat;
  layout: ExportLayout;
  filter: ExampleFilter;
  /** Examples exported. */
  rows: number;
  /** Lines (or parquet rows) written: fewer than rows for FlagEmbedding, which regroups positives. */
  records: number;
  seconds: number;
}

type Obj = Record<string, unknown>;

/**
 * Exports a dataset's rows (filtered) as JSONL or Parquet in one of the export layouts. Writes to a
 * temp file beside the target and renames it into place, so a failed export never leaves a partial file;
 * records the export in the `exports` table.
 */
export function exportDataset(store: Store, name: string, opts: ExportOptions): ExportResult {
  const t0 = Date.now();
  const format = opts.format ?? (opts.out.endsWith('.parquet') ? 'parquet' : 'jsonl');
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw usageError(`unknown format "${format}"; use jsonl or parquet`);
  const layout = opts.layout ?? 'paper';
  if (!(EXPORT_LAYOUTS as readonly string[]).includes(layout))
    throw usageError(`unknown layout "${layout}"; use one of ${EXPORT_LAYOUTS.join(', ')}`);
  const ds = store.datasets.get(name);
  const filter: ExampleFilter = {};
  const status = opts.status ?? 'accepted';
  if (status !== 'all') filter.status = status;
  if (opts.kind) filter.kind = opts.kind;
  if (opts.language) filter.language = opts.language;
  if (opts.split) filter.split = opts.split;
  const total = store.examples.count(ds.id, filter);
  const tracker = new ProgressTracker(total, 'rows', opts.onProgress);
  const out = path.resolve(opts.out);
  checkExportTarget(out, opts.overwrite);
  const dir = path.dirname(out);
  if (!fs.existsSync(dir))
    throw new UserError(`${dir}: output folder does not exist; create it or choose another --out`);
  const tmp = path.join(dir, `.${path.basename(out)}.${process.pid}.tmp`);
  const toObj = TO_LAYOUT[layout];
  let rows = 0;
  // `count` is false for the schema pass of Parquet, so rows and progress count the written pass only.
  const objects = function* (count: boolean): Generator<Obj> {
    for (const e of store.examples.iterate(ds.id, filter)) {
      if (count) tracker.update(++rows);
      yield toObj(e);
    }
  };
  const stream = (count: boolean) =>
    layout === 'flagembedding' ? groupFlag(objects(count)) : objects(count);
  let records = 0;
  try {
    if (format === 'jsonl') {
      const fd = fs.openSync(tmp, 'w');
      try {
        let buf = '';
        for (const o of stream(true)) {
          buf += `${JSON.stringify(o)}\n`;
          records++;
          if (buf.length > 1 << 20) {
            fs.writeSync(fd, buf);
            buf = '';
          }
        }
        fs.writeSync(fd, buf);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      records = writeParquet(tmp, stream);
    }
    if (opts.overwrite) fs.renameSync(tmp, out);
    else {
      // link() fails on an existing name where rename() would replace it: no check-then-write race.
      try {
        fs.linkSync(tmp, out);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') checkExportTarget(out, false);
        throw e;
      }
      fs.rmSync(tmp, { force: true });
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  store.db
    .prepare('INSERT INTO exports (type, source, path, filter_json, rows) VALUES (?, ?, ?, ?, ?)')
    .run(`dataset-${format}`, ds.name, out, JSON.stringify({ ...filter, layout, status }), rows);
  return { dataset: ds.name, out, format, layout, filter, rows, records, seconds: (Date.now() - t0) / 1000 };
}

type ColType = 'STRING' | 'DOUBLE' | 'JSON';

/**
 * Two passes: the first finds the columns (in first-seen order) and their types, the second writes row
 * groups of 10k. Strings and numbers stay typed; objects, lists and mixed columns are JSON columns.
 */
function writeParquet(tmp: string, stream: (count: boolean) => Iterable<Obj>): number {
  const types = new Map<string, ColType | null>();
  for (const o of stream(false))
    for (const [k, v] of Object.entries(o)) {
      const prev = types.get(k) ?? null;
      if (v === null || v === undefined) {
        types.set(k, prev);
        continue;
      }
      const t: ColType = typeof v === 'string' ? 'STRING' : typeof v === 'number' ? 'DOUBLE' : 'JSON';
      // Columns whose values disagree in type fall back to JSON, which keeps every value as it was.
      types.set(k, prev === null || prev === t ? t : 'JSON');
    }
  const cols = [...types.entries()].map(([k, t]) => [k, t ?? 'STRING'] as const);
  const writer = new ParquetWriter({
    writer: fileWriter(tmp),
    schema: schemaFromColumnData({
      columnData: cols.map(([name, type]) => ({ name, data: [], type, nullable: true })),
    }),
    createdBy: 'embedsmith',
  });
  let n = 0;
  let batch: Obj[] = [];
  const flush = () => {
    if (!batch.length) return;
    writer.write({
      columnData: cols.map(([name, type]) => ({
        name,
        type,
        data: batch.map((o) => {
          const v = o[name];
          return v === undefined ? null : v;
        }),
      })),
      rowGroupSize: batch.length,
    });
    batch = [];
  };
  for (const o of stream(true)) {
    batch.push(o);
    n++;
    if (batch.length >= 10_000) flush();
  }
  flush();
  writer.finish();
  return n;
}
