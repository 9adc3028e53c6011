import fs from 'node:fs';
import path from 'node:path';
import type { Kind, NewExample, ReviewStatus } from '../../shared/domain';
import { UserError, usageError } from '../errors';
import { type ProgressListener, ProgressTracker } from '../jobs/progress';
import type { Store } from '../store';
import { splitAssigner, splitSettings } from '../store/splits';
import {
  createStaging,
  dropStaging,
  IMPORT_WAL_AUTOCHECKPOINT,
  publishStaging,
  purgeDeadStagings,
} from '../store/staging';
import { beirSource, looksLikeBeir } from './beir';
import {
  detectLayout,
  IMPORT_LAYOUTS,
  type ImportLayout,
  LINE_PARSERS,
  type LineDefaults,
  LineError,
  type LineLayout,
  parseObject,
} from './layouts';
import { fileLines } from './lines';
import type { ImportRecord } from './records';

export { IMPORT_LAYOUTS, type ImportLayout } from './layouts';

export interface ImportOptions {
  layout?: ImportLayout;
  kind?: Kind;
  language?: string;
  /** Status of rows whose line has none (default unreviewed). */
  status?: ReviewStatus;
  /** Import the valid lines and write the others to a file instead of failing. */
  skipInvalid?: boolean;
  /** Create the dataset (in the same transaction) when it does not exist. */
  create?: boolean;
  /** Sets the dataset's default instruction (rows without one train with it), in the same transaction. */
  instruction?: string;
  /** Folder for the rejected-lines file (default: the workspace's imports/ folder). */
  rejectedDir: string;
  onProgress?: ProgressListener;
  /** Stops the import between records; nothing is published and the staged rows are removed. */
  signal?: AbortSignal;
  /**
   * Called right before publishing (the job's point of no return, JobBody.commit); false means a cancel came
   * first, and the import stops as if its signal had aborted.
   */
  commit?: () => boolean;
}

export interface ImportResult {
  dataset: string;
  input: string;
  layout: LineLayout | 'beir';
  /** Input records read: JSONL lines (blank lines not counted), for BEIR the qrels lines. */
  read: number;
  inserted: number;
  duplicates: number;
  invalid: number;
  /** Valid records that yield no example (BEIR qrels with grade < 1). */
  ignored: number;
  /** With --skip-invalid: the file holding the rejected lines verbatim, when there were any. */
  rejectedFile: string | null;
  /** The first rejected records with their reasons. */
  rejected: { where: string; reason: string }[];
  /** Whole import, and the full-text indexing part of it. */
  seconds: number;
  indexSeconds: number;
}

/** Rows per chunk transaction: the first guess, and bounds for the size that takes about CHUNK_MS. */
const FIRST_CHUNK = 2000;
const MIN_CHUNK = 200;
const MAX_CHUNK = 20_000;
const CHUNK_MS = 100;
const YIELD_MS = 20;

/** Finds the layout of a JSONL file from its first line that parses and fits one. */
async function detectFileLayout(file: string): Promise<LineLayout> {
  const { lines } = fileLines(file);
  try {
    for await (const { no, text: line, invalidUtf8 } of lines) {
      if (invalidUtf8 || !line.trim()) continue;
      let o: Record<string, unknown>;
      try {
        o = parseObject(line);
      } catch {
        continue;
      }
      const l = detectLayout(o);
      if (l) return l;
      throw new UserError(
        `${file}:${no}: cannot tell the layout from keys ${Object.keys(o).slice(0, 8).join(', ') || '(none)'}; pass --layout paper|sentence-transformers|flagembedding`,
      );
    }
  } finally {
    await lines.return(undefined);
  }
  throw new UserError(
    `${file}: no valid JSON object line to detect the layout from; pass --layout or fix the file`,
  );
}

function lineSource(file: string, layout: LineLayout, d: LineDefaults) {
  const size = fs.statSync(file).size;
  const { stream: input, lines } = fileLines(file);
  let records = 0;
  const parse = LINE_PARSERS[layout];
  async function* gen(): AsyncGenerator<ImportRecord> {
    for await (const { no, text: line, invalidUtf8, bytes } of lines) {
      if (!invalidUtf8 && !line.trim()) continue;
      records++;
      const where = `${file}:${no}`;
      if (invalidUtf8) {
        yield { where, raw: line, rawBytes: bytes, error: 'not valid UTF-8' };
        continue;
      }
      try {
        yield { where, raw: line, examples: parse(parseObject(line), d) };
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        yield { where, raw: line, error: e.message };
      }
    }
  }
  // Total records estimated from the bytes read so far, so the bar has an ETA while streaming.
  const total = () =>
    input.bytesRead > 0 ? Math.max(records, Math.round((records * size) / input.bytesRead)) : null;
  return { total, records: gen() };
}

/** The records of a JSONL file or a BEIR folder, with the layout they are read with. */
async function openSource(
  input: string,
  layoutOpt: ImportLayout,
  d: LineDefaults,
): Promise<{
  layout: LineLayout | 'beir';
  source: { total: () => number | null; records: AsyncIterable<ImportRecord> };
}> {
  const isDir = fs.statSync(input).isDirectory();
  let layout: LineLayout | 'beir';
  let source: { total: () => number | null; records: AsyncIterable<ImportRecord> };
  if (isDir) {
    if (layoutOpt !== 'auto' && layoutOpt !== 'beir')
      throw usageError(
        `${input} is a folder; only --layout beir (or auto) reads folders; pass a .jsonl file for ${layoutOpt}`,
      );
    if (!looksLikeBeir(input))
      throw new UserError(
        `${input}: not a BEIR folder (no corpus.jsonl, queries.jsonl or qrels/); pass a JSONL file or a BEIR folder`,
      );
    layout = 'beir';
    source = beirSource(input, d);
  } else {
    if (layoutOpt === 'beir')
      throw usageError(
        `${input} is a file; --layout beir needs a folder with corpus.jsonl, queries.jsonl and qrels/`,
      );
    layout = layoutOpt === 'auto' ? await detectFileLayout(input) : layoutOpt;
    source = lineSource(input, layout, d);
  }

  return { layout, source };
}

/**
 * Imports a JSONL file or a BEIR folder into a dataset, all or nothing: rows are committed in short chunks
 * (~CHUNK_MS each, so other writers wait at most that) into a hidden staging dataset, and published into the
 * dataset in one transaction at the end (src/main/store/staging.ts). A malformed line, an error or a killed
 * process leaves the dataset as it was; the next import removes the staged rows of a killed one.
 * Duplicates (by content hash) are skipped and counted.
 */
export async function importDataset(
  store: Store,
  name: string,
  input: string,
  opts: ImportOptions,
): Promise<ImportResult> {
  const t0 = Date.now();
  const layoutOpt = opts.layout ?? 'auto';
  if (!(IMPORT_LAYOUTS as readonly string[]).includes(layoutOpt))
    throw usageError(`unknown layout "${layoutOpt}"; use one of ${IMPORT_LAYOUTS.join(', ')}`);
  if (!fs.existsSync(input)) throw new UserError(`${input}: no such file or folder; check the path`);
  if (!opts.create && !store.datasets.find(name))
    throw new UserError(
      `unknown dataset "${name}"; create it with \`embedsmith datasets create ${name}\` or pass --create to the import`,
    );
  const d: LineDefaults = { kind: opts.kind, language: opts.language, status: opts.status };
  const { layout, source } = await openSource(input, layoutOpt, d);

  const res: ImportResult = {
    dataset: name,
    input,
    layout,
    read: 0,
    inserted: 0,
    duplicates: 0,
    invalid: 0,
    ignored: 0,
    rejectedFile: null,
    rejected: [],
    seconds: 0,
    indexSeconds: 0,
  };
  const tracker = new ProgressTracker(null, 'lines', opts.onProgress);
  let rejectFd: number | null = null;
  const db = store.db;
  if (db.inTransaction) throw new Error('importDataset: the connection is already in a transaction');
  // What killed imports left behind goes first (invisible rows, deleted in short transactions).
  purgeDeadStagings(db);
  const target = store.datasets.find(name);
  const splitFor = splitAssigner(target ? splitSettings(db, target.id) : undefined);
  const staging = db.transaction(() => createStaging(db, name))();
  const checkpointEvery = db.pragma('wal_autocheckpoint', { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${IMPORT_WAL_AUTOCHECKPOINT}`);
  try {
    let batch: NewExample[] = [];
    let chunkRows = FIRST_CHUNK;
    // One short transaction per chunk, all synchronous (never open across an await: a writer on another
    // connection of this thread would wait for a lock only this thread can release). The chunk is sized
    // to take about CHUNK_MS, which bounds how long any other writer waits.
    const flush = (final = false) => {
      if (batch.length) {
        const t = performance.now();
        const r = db.transaction(() => store.examples.insertMany(staging.id, batch, { splitFor }))();
        const ms = performance.now() - t;
        chunkRows = Math.round(
          Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, (chunkRows * CHUNK_MS) / Math.max(ms, 1))),
        );
        res.inserted += r.inserted;
        res.duplicates += r.duplicates;
        batch = [];
      }
      tracker.setTotal(final ? res.read : source.total());
      tracker.update(res.read);
    };
    let lastYield = performance.now();
    const stopIfCancelled = () => {
      if (opts.signal?.aborted) throw new UserError(`import of ${input} cancelled; nothing was imported`);
    };
    for await (const rec of source.records) {
      stopIfCancelled();
      // The line reader resolves from its buffer in microtasks, which never return to the event loop: in
      // the app's process (an import job) every request would wait for the whole import. Yield every YIELD_MS.
      if (performance.now() - lastYield > YIELD_MS) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
      res.read++;
      if (rec.error !== undefined) {
        if (!opts.skipInvalid)
          throw new UserError(
            `${rec.where}: ${rec.error}; fix the line or pass --skip-invalid to import the rest`,
          );
        res.invalid++;
        if (res.rejected.length < 100) res.rejected.push({ where: rec.where, reason: rec.error });
        if (rejectFd === null) {
          fs.mkdirSync(opts.rejectedDir, { recursive: true });
          const stamp = new Date().toISOString().replace(/[:.]/g, '-');
          res.rejectedFile = path.join(
            opts.rejectedDir,
            `${name}-${path.basename(input)}-${stamp}.rejected.jsonl`,
          );
          rejectFd = fs.openSync(res.rejectedFile, 'w');
        }
        if (rec.rawBytes) fs.writeSync(rejectFd, Buffer.concat([rec.rawBytes, Buffer.from('\n')]));
        else fs.writeSync(rejectFd, `${rec.raw}\n`);
        continue;
      }
      if (!rec.examples?.length) res.ignored++;
      else for (const e of rec.examples) batch.push(e);
      if (batch.length >= chunkRows) flush();
    }
    flush(true);
    stopIfCancelled();
    if (opts.commit && !opts.commit())
      throw new UserError(`import of ${input} cancelled; nothing was imported`);
    // The whole file becomes visible at once; rows the dataset already has count as duplicates.
    const pub = publishStaging(db, staging, name, {
      create: Boolean(opts.create),
      inside: () => {
        if (opts.instruction?.trim()) store.datasets.setInstruction(name, opts.instruction);
      },
    });
    res.inserted -= pub.duplicates;
    res.duplicates += pub.duplicates;
  } catch (e) {
    try {
      dropStaging(db, staging.id);
    } catch {
      // Busy or gone: the next import purges it (its rows are invisible either way).
    }
    throw e;
  } finally {
    if (rejectFd !== null) fs.closeSync(rejectFd);
    db.pragma(`wal_autocheckpoint = ${checkpointEvery}`);
  }
  // Full-text indexing and the stats counts run after the commit in their own transactions (migrations 2
  // and 3): the rows are safe already, and an interrupted run resumes at the next search, stats or import.
  const t1 = Date.now();
  const indexTracker = new ProgressTracker(null, 'rows indexed', opts.onProgress);
  await store.examples.indexPendingYielding({
    onProgress: (done, total) => {
      indexTracker.setTotal(total);
      indexTracker.update(done);
    },
  });
  store.examples.foldCounts();
  res.indexSeconds = (Date.now() - t1) / 1000;
  res.seconds = (Date.now() - t0) / 1000;
  return res;
}
