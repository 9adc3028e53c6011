import { KINDS, type Kind } from '../../shared/domain';
import { UserError } from '../errors';
import type { WeightedLanguage } from './languages';
import { costUsd, type PriceTable, priceOf } from './prices';
import { type AsymKind, brainstormTemplateId, exampleTemplateId, isAsym, type Template } from './prompts';

export interface ModelWeight {
  name: string;
  weight: number;
}

/** METHOD §6 kind mix (thousands of examples in the paper). */
export const DEFAULT_MIX: Record<Kind, number> = {
  'short-long': 167,
  'long-short': 122,
  'short-short': 13,
  'long-long': 17,
  sts: 99,
  bitext: 89,
};
/** 500k examples from 150k tasks: each task serves about 3.3 examples; ~20 tasks per brainstorm call. */
export const EXAMPLES_PER_TASK = 500 / 150;
export const TASKS_PER_BRAINSTORM = 20;

/** Expected completion tokens per answer (value-set averages × ~1.35 tokens per word, plus JSON). */
export const EXPECTED_COMPLETION_TOKENS: Record<Kind | 'brainstorm', number> = {
  'short-long': 730,
  'long-short': 140,
  'short-short': 50,
  'long-long': 965,
  sts: 180,
  bitext: 180,
  brainstorm: 520,
};

export interface PlanCell {
  kind: Kind;
  language: string;
  quota: number;
}

export interface Plan {
  count: number;
  kinds: Kind[];
  cells: PlanCell[];
  byKind: Partial<Record<Kind, number>>;
  byLanguage: Record<string, number>;
  brainstormCalls: Partial<Record<AsymKind, number>>;
  /** Calls if every answer were accepted, and with the assumed reject rate. */
  calls: { min: number; expected: number; assumedRejectRate: number };
  tokens: { prompt: number; completion: number };
  costUsd: number;
  unpricedModels: string[];
  batch: boolean;
}

/** Splits `total` by weights into integers that sum exactly to `total` (largest remainder). */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0) return weights.map(() => 0);
  const raw = weights.map((w) => (total * w) / sum);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j++, left--) out[order[j % order.length][1]]++;
  return out;
}

/** Parses `short-long=167,sts=99` (kinds left out get 0). */
export function parseMix(spec: string | undefined): Record<Kind, number> {
  if (!spec) return { ...DEFAULT_MIX };
  const mix = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  for (const part of spec.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (!(KINDS as readonly string[]).includes(k) || !(Number(v) >= 0))
      throw new UserError(`--mix: "${part}" is not KIND=WEIGHT with KIND one of ${KINDS.join(', ')}`, 2);
    mix[k as Kind] = Number(v);
  }
  return mix;
}

/** Parses `gpt-4o=0.75,gpt-4o-mini=0.25` (a bare name has weight 1). */
export function parseModels(spec: string): ModelWeight[] {
  const out = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.lastIndexOf('=');
      const name = i > 0 ? s.slice(0, i).trim() : s;
      const weight = i > 0 ? Number(s.slice(i + 1)) : 1;
      if (!name || !Number.isFinite(weight) || weight < 0)
        throw new UserError(`--models: "${s}" is not MODEL or MODEL=WEIGHT`, 2);
      return { name, weight };
    })
    .filter((m) => m.weight > 0);
  if (!out.length)
    throw new UserError('--models: name at least one model, e.g. "gpt-4o=0.75,gpt-4o-mini=0.25"', 2);
  return out;
}

export interface PlanInput {
  count: number;
  kinds: Kind[];
  mix: Record<Kind, number>;
  languages: WeightedLanguage[];
  models: ModelWeight[];
  prices: PriceTable;
  templates: Record<string, Template>;
  batch: boolean;
  assumedRejectRate?: number;
}

const promptTokens = (t: Template) => Math.ceil((t.text.length + 120) / 4);

/** The coverage matrix, call counts, tokens and cost of a run, computed before anything is spent. */
export function makePlan(inp: PlanInput): Plan {
  if (!Number.isInteger(inp.count) || inp.count < 1)
    throw new UserError('--count must be a whole number ≥ 1', 2);
  if (!inp.kinds.length) throw new UserError('--kinds: name at least one kind', 2);
  if (inp.kinds.includes('bitext') && inp.languages.length < 2)
    throw new UserError('bitext needs at least two languages in --languages (source and target differ)', 2);
  const weights = inp.kinds.map((k) => inp.mix[k] ?? 0);
  if (weights.every((w) => w <= 0)) throw new UserError('--mix gives every chosen kind weight 0', 2);
  const perKind = apportion(inp.count, weights);
  const cells: PlanCell[] = [];
  const byKind: Partial<Record<Kind, number>> = {};
  const byLanguage: Record<string, number> = {};
  const brainstormCalls: Partial<Record<AsymKind, number>> = {};
  const rejectRate = inp.assumedRejectRate ?? 0.1;
  let promptT = 0;
  let completionT = 0;
  let minCalls = 0;
  let expectedCalls = 0;
  inp.kinds.forEach((kind, ki) => {
    const n = perKind[ki];
    byKind[kind] = n;
    if (!n) return;
    const split = apportion(
      n,
      inp.languages.map((l) => l.weight),
    );
    inp.languages.forEach((l, li) => {
      if (!split[li]) return;
      cells.push({ kind, language: l.code, quota: split[li] });
      byLanguage[l.code] = (byLanguage[l.code] ?? 0) + split[li];
    });
    const calls = Math.ceil(n / (1 - rejectRate));
    minCalls += n;
    expectedCalls += calls;
    promptT += calls * promptTokens(inp.templates[exampleTemplateId(kind)]);
    completionT += calls * EXPECTED_COMPLETION_TOKENS[kind];
    if (isAsym(kind)) {
      const b = Math.max(1, Math.ceil(n / (EXAMPLES_PER_TASK * TASKS_PER_BRAINSTORM)));
      brainstormCalls[kind] = b;
      minCalls += b;
      expectedCalls += b;
      promptT += b * promptTokens(inp.templates[brainstormTemplateId(kind)]);
      completionT += b * EXPECTED_COMPLETION_TOKENS.brainstorm;
    }
  });
  const wsum = inp.models.reduce((s, m) => s + m.weight, 0);
  let cost = 0;
  for (const m of inp.models)
    cost += (m.weight / wsum) * costUsd(inp.prices, m.name, promptT, completionT, inp.batch);
  return {
    count: inp.count,
    kinds: inp.kinds,
    cells,
    byKind,
    byLanguage,
    brainstormCalls,
    calls: { min: minCalls, expected: expectedCalls, assumedRejectRate: rejectRate },
    tokens: { prompt: promptT, completion: completionT },
    costUsd: cost,
    unpricedModels: inp.models.filter((m) => !priceOf(inp.prices, m.name)).map((m) => m.name),
    batch: inp.batch,
  };
}
