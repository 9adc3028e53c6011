import { type Example, KIND_KEYS } from '../../shared/domain';
import type { LineLayout, Passthrough } from '../import/layouts';

export const EXPORT_LAYOUTS = ['paper', 'sentence-transformers', 'flagembedding'] as const;
export type ExportLayout = (typeof EXPORT_LAYOUTS)[number];

type Obj = Record<string, unknown>;

/** Splits extras into the reserved keys (see import/layouts.ts) and the free rest. */
function splitExtras(e: Example) {
  const { high_score, low_score, negatives, negative_columns, passthrough, ...free } = e.extras as Obj & {
    negatives?: string[];
    passthrough?: Passthrough;
  };
  return { high_score, low_score, negatives, negative_columns, passthrough, free };
}

const own = (p: Passthrough | undefined, layout: LineLayout) => (p?.layout === layout ? p.fields : undefined);

/**
 * The paper layout: kind, language, the kind's METHOD §2 keys, the sts/bitext scores, instruction, status,
 * reject_reason, attributes; split / generator_model / template_version / seed when set; every other extra
 * (including what other layouts' imports kept) under `extras`, so a paper export re-imports to identical rows.
 */
export function toPaper(e: Example): Obj {
  const spec = KIND_KEYS[e.kind];
  const x = splitExtras(e);
  const o: Obj = { kind: e.kind };
  if (e.kind !== 'bitext' || e.language !== null) o.language = e.language;
  if (e.kind === 'bitext' || e.srcLang !== null || e.tgtLang !== null) {
    o.src_lang = e.srcLang;
    o.tgt_lang = e.tgtLang;
  }
  o[spec.query] = e.query;
  o[spec.positive] = e.positive;
  // Kinds without a negative key (short-short, long-long) keep a negative that came from elsewhere as `negative`.
  if (e.negative !== null) o[spec.negative ?? 'negative'] = e.negative;
  if (x.high_score !== undefined) o.high_score = x.high_score;
  if (x.low_score !== undefined) o.low_score = x.low_score;
  o.instruction = e.instruction;
  o.status = e.status;
  o.reject_reason = e.rejectReason;
  o.attributes = e.attributes;
  if (e.split !== null) o.split = e.split;
  if (e.generatorModel !== null) o.generator_model = e.generatorModel;
  if (e.templateVersion !== null) o.template_version = e.templateVersion;
  if (e.seed !== null) o.seed = e.seed;
  const free: Obj = { ...x.free };
  if (x.negatives !== undefined) free.negatives = x.negatives;
  if (x.negative_columns !== undefined) free.negative_columns = x.negative_columns;
  if (x.passthrough && x.passthrough.layout !== 'paper') free.passthrough = x.passthrough;
  if (Object.keys(free).length) o.extras = free;
  const mine = own(x.passthrough, 'paper');
  if (mine) Object.assign(o, mine);
  return o;
}

/** sentence-transformers: anchor, positive, negative (or negative_1..n when the import had that form). */
export function toSentenceTransformers(e: Example): Obj {
  const x = splitExtras(e);
  const o: Obj = { anchor: e.query, positive: e.positive };
  if (x.negative_columns && e.negative !== null)
    [e.negative, ...(x.negatives ?? [])].forEach((n, i) => {
      o[`negative_${i + 1}`] = n;
    });
  else if (e.negative !== null) o.negative = e.negative;
  const mine = own(x.passthrough, 'sentence-transformers');
  if (mine) Object.assign(o, mine);
  return o;
}

/** FlagEmbedding: query, pos, neg (the hard negative then the extra ones), prompt (the instruction). */
export function toFlagEmbedding(e: Example): Obj {
  const x = splitExtras(e);
  const o: Obj = {
    query: e.query,
    pos: [e.positive],
    neg: e.negative === null ? [] : [e.negative, ...(x.negatives ?? [])],
  };
  if (e.instruction !== null) o.prompt = e.instruction;
  const mine = own(x.passthrough, 'flagembedding');
  if (mine) Object.assign(o, mine);
  return o;
}

/**
 * Merges consecutive FlagEmbedding lines that differ only in `pos` (what one imported line with several
 * positives became), so an imported file comes back line for line.
 */
export function* groupFlag(objs: Iterable<Obj>): Generator<Obj> {
  let cur: Obj | null = null;
  let curKey = '';
  for (const o of objs) {
    const { pos, ...restOf } = o;
    const key = JSON.stringify(restOf);
    if (cur && key === curKey) (cur.pos as string[]).push(...(pos as string[]));
    else {
      if (cur) yield cur;
      cur = { ...o, pos: [...(pos as string[])] };
      curKey = key;
    }
  }
  if (cur) yield cur;
}

export const TO_LAYOUT: Record<ExportLayout, (e: Example) => Obj> = {
  paper: toPaper,
  'sentence-transformers': toSentenceTransformers,
  flagembedding: toFlagEmbedding,
};
