import { KIND_KEYS, type Kind } from '../../shared/domain';
import type { Attributes } from './attributes';
import { signature, withNormalizeMemo } from './dedup';
import { type ParsedObject, parseExampleAnswer } from './parse';
import { type Validated, type ValidationOptions, validateExample } from './validate';

export interface CheckRequest {
  id: number;
  kind: Kind;
  text: string;
  attrs: Attributes;
  validation: ValidationOptions;
}

/** Everything about one answer that needs no database: parse, validate, duplicate signature. */
export interface CheckResult {
  id: number;
  parsed: ParsedObject;
  v?: Validated;
  sig?: { key: string; sig: Uint32Array };
}

/** Pure and thread-safe: runs inline or in the check worker. */
export function checkAnswer(r: CheckRequest): CheckResult {
  return withNormalizeMemo(() => check(r));
}

function check(r: CheckRequest): CheckResult {
  const parsed = parseExampleAnswer(r.text);
  if (!parsed.ok) return { id: r.id, parsed };
  const v = validateExample(r.kind, parsed.value, r.attrs, r.validation);
  if (!v.ok) return { id: r.id, parsed, v };
  const spec = KIND_KEYS[r.kind];
  return {
    id: r.id,
    parsed,
    v,
    sig: signature([
      v.fields[spec.query],
      v.fields[spec.positive],
      spec.negative ? v.fields[spec.negative] : null,
    ]),
  };
}
