import {
  isKind,
  KIND_KEYS,
  KINDS,
  type Kind,
  type NewExample,
  type ReviewStatus,
  SPLITS,
  type Split,
  STATUSES,
} from '../../shared/domain';

/** Line layouts of JSONL import (BEIR folders are handled in beir.ts). */
export const LINE_LAYOUTS = ['paper', 'sentence-transformers', 'flagembedding'] as const;
export type LineLayout = (typeof LINE_LAYOUTS)[number];
export const IMPORT_LAYOUTS = ['auto', ...LINE_LAYOUTS, 'beir'] as const;
export type ImportLayout = (typeof IMPORT_LAYOUTS)[number];

/**
 * Reserved keys of Example.extras written by import and read back by export:
 * - `negatives`: hard negatives beyond the first (FlagEmbedding `neg[1..]`, sentence-transformers `negative_2..`);
 * - `high_score`, `low_score`: the sts/bitext scores of the paper layout;
 * - `passthrough`: `{ layout, fields }`, keys of the imported line that the layout does not know, written
 *   back verbatim by an export in the same layout (so a round trip is lossless without leaking them into
 *   other layouts, where e.g. sentence-transformers would treat any extra column as an input).
 * Any other key is a free extra (the paper layout exports them under `extras`).
 */
export interface Passthrough {
  layout: LineLayout;
  fields: Record<string, unknown>;
}

/** What every line parser gets: defaults from the command line. */
export interface LineDefaults {
  kind?: Kind;
  language?: string;
  status?: ReviewStatus;
}

/** A line that cannot be imported; the message is the reason (the caller prefixes file:line). */
export class LineError extends Error {}

const str = (o: Record<string, unknown>, key: string, required: boolean): string | null => {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new LineError(`missing "${key}"`);
    return null;
  }
  if (typeof v !== 'string') throw new LineError(`"${key}" must be a string, got ${typeName(v)}`);
  if (required && !v.trim()) throw new LineError(`"${key}" is empty`);
  return v;
};

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

const strList = (o: Record<string, unknown>, key: string, required: boolean): string[] => {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new LineError(`missing "${key}"`);
    return [];
  }
  if (!Array.isArray(v)) throw new LineError(`"${key}" must be a list of strings, got ${typeName(v)}`);
  v.forEach((x, i) => {
    if (typeof x !== 'string') throw new LineError(`"${key}[${i}]" must be a string, got ${typeName(x)}`);
    if (!x.trim()) throw new LineError(`"${key}[${i}]" is empty`);
  });
  return v as string[];
};

const rest = (o: Record<string, unknown>, known: ReadonlySet<string>) => {
  const out: Record<string, unknown> = {};
  let any = false;
  for (const k in o)
    if (!known.has(k)) {
      out[k] = o[k];
      any = true;
    }
  return any ? out : undefined;
};

/** Parses one JSONL line into an object, or throws a LineError naming what is wrong. */
export function parseObject(line: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new LineError(`invalid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new LineError(`expected a JSON object, got ${typeName(v)}`);
  return v as Record<string, unknown>;
}

/** Layout of one object, or undefined when the keys fit none. */
export function detectLayout(o: Record<string, unknown>): LineLayout | undefined {
  if ('anchor' in o) return 'sentence-transformers';
  if ('query' in o && 'pos' in o) return 'flagembedding';
  if ('kind' in o || inferKind(o) || 'input' in o) return 'paper';
  return undefined;
}

/** The kind a paper object's keys imply when unambiguous (short-short and long-long share keys). */
export function inferKind(o: Record<string, unknown>): Kind | undefined {
  if ('user_query' in o) return 'short-long';
  if ('input_text' in o) return 'long-short';
  if ('S1' in o) return 'src_lang' in o || 'tgt_lang' in o ? 'bitext' : 'sts';
  return undefined;
}

// ---- sentence-transformers: {anchor, positive, negative?} or {anchor, positive, negative_1..negative_n}

const ST_KNOWN = new Set(['anchor', 'positive', 'negative']);

export function parseSentenceTransformers(o: Record<string, unknown>, d: LineDefaults): NewExample[] {
  const query = str(o, 'anchor', true)!;
  const positive = str(o, 'positive', true)!;
  const known = new Set(ST_KNOWN);
  let negatives: string[] = [];
  if ('negative' in o) {
    const n = str(o, 'negative', false);
    if (n !== null) negatives = [n];
  } else {
    for (let i = 1; `negative_${i}` in o; i++) {
      known.add(`negative_${i}`);
      negatives.push(str(o, `negative_${i}`, true)!);
    }
  }
  const extras: Record<string, unknown> = {};
  if (negatives.length > 1 || (negatives.length === 1 && !('negative' in o))) {
    // n-tuple form: remember it so export writes negative_1..n again.
    extras.negatives = negatives.slice(1);
    extras.negative_columns = true;
  }
  const unknown = rest(o, known);
  if (unknown)
    extras.passthrough = { layout: 'sentence-transformers', fields: unknown } satisfies Passthrough;
  return [
    {
      kind: d.kind ?? 'short-long',
      language: d.language ?? null,
      query,
      positive,
      negative: negatives[0] ?? null,
      extras,
      status: d.status,
      origin: 'import',
    },
  ];
}

// ---- FlagEmbedding: {query, pos: [...], neg: [...], prompt?}; one example per (query, pos)

const FLAG_KNOWN = new Set(['query', 'pos', 'neg', 'prompt']);

export function parseFlagEmbedding(o: Record<string, unknown>, d: LineDefaults): NewExample[] {
  const query = str(o, 'query', true)!;
  const pos = strList(o, 'pos', true);
  if (!pos.length) throw new LineError('"pos" is an empty list; each line needs at least one positive');
  const neg = strList(o, 'neg', false);
  const prompt = str(o, 'prompt', false);
  const extras: Record<string, unknown> = {};
  if (neg.length > 1) extras.negatives = neg.slice(1);
  const unknown = rest(o, FLAG_KNOWN);
  if (unknown) extras.passthrough = { layout: 'flagembedding', fields: unknown } satisfies Passthrough;
  return pos.map((p) => ({
    kind: d.kind ?? 'short-long',
    language: d.language ?? null,
    instruction: prompt,
    query,
    positive: p,
    negative: neg[0] ?? null,
    extras,
    status: d.status,
    origin: 'import',
  }));
}

// ---- The paper's per-kind objects (METHOD §2 keys) plus the curation fields

/** Keys of the paper layout besides the kind's own (KIND_KEYS). */
export const PAPER_META_KEYS = [
  'kind',
  'language',
  'src_lang',
  'tgt_lang',
  'high_score',
  'low_score',
  'instruction',
  'status',
  'reject_reason',
  'attributes',
  'split',
  'generator_model',
  'template_version',
  'seed',
  'extras',
] as const;

export function parsePaper(o: Record<string, unknown>, d: LineDefaults): NewExample[] {
  let kind: Kind | undefined;
  if (o.kind !== undefined && o.kind !== null) {
    if (typeof o.kind !== 'string' || !isKind(o.kind))
      throw new LineError(`unknown kind ${JSON.stringify(o.kind)}; use one of ${KINDS.join(', ')}`);
    kind = o.kind;
  } else kind = d.kind ?? inferKind(o);
  if (!kind)
    throw new LineError(
      'no "kind" and the keys do not name one (input/positive_document fit short-short and long-long); add "kind" or pass --kind',
    );
  const spec = KIND_KEYS[kind];
  // Kinds without a negative key read a negative that came from another layout as `negative` (see toPaper).
  const negKey = spec.negative ?? 'negative';
  const known = new Set<string>([...PAPER_META_KEYS, ...spec.keys, negKey]);
  const query = str(o, spec.query, true)!;
  const positive = str(o, spec.positive, true)!;
  const negative = str(o, negKey, false);
  const status = str(o, 'status', false) ?? d.status ?? 'unreviewed';
  if (!(STATUSES as readonly string[]).includes(status))
    throw new LineError(`unknown status "${status}"; use one of ${STATUSES.join(', ')}`);
  const split = str(o, 'split', false);
  if (split !== null && !(SPLITS as readonly string[]).includes(split))
    throw new LineError(`unknown split "${split}"; use one of ${SPLITS.join(', ')}`);
  const attributes = o.attributes ?? {};
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))
    throw new LineError(`"attributes" must be an object, got ${typeName(attributes)}`);
  const given = o.extras ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    throw new LineError(`"extras" must be an object, got ${typeName(given)}`);
  const extras: Record<string, unknown> = { ...(given as Record<string, unknown>) };
  for (const k of ['high_score', 'low_score'] as const) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new LineError(`"${k}" must be a number, got ${typeName(v)}`);
    extras[k] = v;
  }
  const seed = o.seed ?? null;
  if (seed !== null && !Number.isInteger(seed))
    throw new LineError(`"seed" must be an integer, got ${typeName(seed)}`);
  const unknown = rest(o, known);
  if (unknown) extras.passthrough = { layout: 'paper', fields: unknown } satisfies Passthrough;
  return [
    {
      kind,
      language: o.language === undefined ? (d.language ?? null) : str(o, 'language', false),
      srcLang: str(o, 'src_lang', false),
      tgtLang: str(o, 'tgt_lang', false),
      query,
      positive,
      negative,
      instruction: str(o, 'instruction', false),
      status: status as ReviewStatus,
      rejectReason: str(o, 'reject_reason', false),
      attributes: attributes as Record<string, unknown>,
      extras,
      split: split as Split | null,
      generatorModel: str(o, 'generator_model', false),
      templateVersion: str(o, 'template_version', false),
      seed: seed as number | null,
      origin: 'import',
    },
  ];
}

export const LINE_PARSERS: Record<LineLayout, (o: Record<string, unknown>, d: LineDefaults) => NewExample[]> =
  {
    paper: parsePaper,
    'sentence-transformers': parseSentenceTransformers,
    flagembedding: parseFlagEmbedding,
  };
