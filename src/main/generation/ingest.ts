import { FIXED_INSTRUCTIONS, KIND_KEYS } from '../../shared/domain';
import type { ExampleRow, RequestRow } from '../store/generation-results';
import { contentHash } from '../store/hash';
import { type CheckResult, checkAnswer } from './check';
import type { Item } from './queue';
import { parseTaskList } from './parse';
import type { ChatResult, LlmError } from './provider';
import { isAsym } from './prompts';
import type { RejectReason } from './reasons';
import type { ValidationOptions } from './validate';

/** What came back for one sent item: its requests, and an answer, a failure, or a return to the queue. */
export interface Outcome {
  item: Item;
  attempts: RequestRow[];
  answer?: ChatResult;
  failure?: LlmError;
  /** Returned to the queue untouched (cancelled mid-flight). */
  requeue?: boolean;
  /** Parse/validate/signature, when done in the check worker. */
  check?: CheckResult;
  estUsd: number;
  estTokens: number;
}

/** What ingest needs to know besides the answer; nothing here writes. */
export interface IngestContext {
  validation: ValidationOptions;
  /** The item's cell already has its quota: a valid answer is kept as surplus. */
  cellFull: boolean;
  /** The text of the task the item was asked with (asymmetric kinds). */
  task: string | null;
  templateVersion: string;
  /** The duplicate index: a reason when the signature matches a kept example. */
  duplicateOf: (key: string, sig: Uint32Array) => RejectReason | null;
}

/** What one answer becomes. */
export type Ingested =
  /** A brainstorm's task list. */
  | { type: 'tasks'; tasks: string[] }
  /** No example row: the reason is kept on the request row with the raw answer. */
  | { type: 'unreadable'; reason: RejectReason }
  /** An example row, rejected (reason set) or kept (then its duplicate signature is indexed). */
  | {
      type: 'example';
      row: ExampleRow;
      reason: RejectReason | null;
      sig?: { key: string; sig: Uint32Array };
    };

/**
 * One answer → its rows or its reject reason (METHOD §5). Pure: parsing and checks (unless the check
 * worker already did them, `check`), the duplicate lookup through the context, and the example's columns.
 */
export function ingestAnswer(
  item: Item,
  text: string,
  check: CheckResult | undefined,
  ctx: IngestContext,
): Ingested {
  if (item.type === 'brainstorm') {
    const parsed = parseTaskList(text);
    return parsed.ok ? { type: 'tasks', tasks: parsed.tasks } : { type: 'unreadable', reason: parsed.reason };
  }
  const kind = item.kind;
  const chk =
    check ?? checkAnswer({ id: item.id, kind, text, attrs: item.attrs, validation: ctx.validation });
  const parsed = chk.parsed;
  if (!parsed.ok) return { type: 'unreadable', reason: parsed.reason };
  const v = chk.v!;
  const spec = KIND_KEYS[kind];
  const fields: Record<string, string> = v.fields ?? {};
  const val = (k: string | null) =>
    k === null
      ? null
      : (fields[k] ??
        (typeof parsed.value[k] === 'string'
          ? (parsed.value[k] as string)
          : parsed.value[k] === undefined
            ? ''
            : JSON.stringify(parsed.value[k])));
  const query = val(spec.query) ?? '';
  const positive = val(spec.positive) ?? '';
  const negative = val(spec.negative);
  let reason: RejectReason | null = v.ok ? null : v.reason;
  const sig = chk.sig;
  if (!reason && sig) reason = ctx.duplicateOf(sig.key, sig.sig);
  const bitext = kind === 'bitext';
  const extras: Record<string, unknown> = {};
  if (kind === 'sts' || bitext) {
    extras.high_score = Number(item.attrs.high_score);
    extras.low_score = Number(item.attrs.low_score);
  }
  if (v.ok && Object.keys(v.extraKeys).length) extras.extra_keys = v.extraKeys;
  if (reason) {
    extras.raw_answer = text;
    if (!v.ok && v.detail) extras.reject_detail = v.detail;
  }
  const srcLang = bitext ? item.attrs.src_lang : null;
  const tgtLang = bitext ? item.attrs.tgt_lang : null;
  const row: ExampleRow = {
    kind,
    taskId: item.taskId,
    instruction: isAsym(kind) ? ctx.task : (FIXED_INSTRUCTIONS[kind] ?? null),
    language: bitext ? null : item.attrs.language,
    srcLang,
    tgtLang,
    query,
    positive,
    negative,
    extras,
    attrs: item.attrs,
    seed: item.seed,
    model: item.model,
    templateVersion: ctx.templateVersion,
    rejectReason: reason,
    contentHash: contentHash({ kind, query, positive, negative, srcLang, tgtLang }),
    surplus: !reason && ctx.cellFull,
  };
  return { type: 'example', row, reason, sig: reason ? undefined : sig };
}
