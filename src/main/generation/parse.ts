import { jsonrepair } from 'jsonrepair';
import type { RejectReason } from './reasons';

const REFUSAL_RE =
  /\b(?:I(?:'|’)?m sorry|I am sorry|I apologi[sz]e|I can(?:not|(?:'|’)t) (?:help|assist|comply|provide|create|generate|fulfil+|write|do that)|I(?:'|’)?m (?:not able|unable) to|I am (?:not able|unable) to|as an AI(?: language model)?|I (?:must|have to) decline|I won(?:'|’)t be able to)\b/i;

export const looksLikeRefusal = (text: string) => REFUSAL_RE.test(text.slice(0, 400));

/**
 * A JSON value that is a refusal rather than content: it opens with an apology or "As an AI" and says it
 * cannot comply. Stricter than looksLikeRefusal, because example texts may quote apologies legitimately.
 */
export const valueIsRefusal = (text: string) =>
  /^\W{0,3}(?:I(?:'|’)?m sorry|I am sorry|I apologi[sz]e|As an AI|Sorry)/i.test(text) &&
  /can(?:not|(?:'|’)t)|unable|not able|as an AI|decline/i.test(text.slice(0, 300));

const FENCE_RE = /```[a-zA-Z]*\s*\n?([\s\S]*?)```/;

/** The JSON-ish part of an answer: inside a code fence when there is one, else the text itself. */
function unfence(text: string): string {
  const m = FENCE_RE.exec(text);
  return m ? m[1] : text;
}

export type ParsedObject =
  | { ok: true; value: Record<string, unknown>; repaired: boolean }
  | { ok: false; reason: RejectReason };

/**
 * Reads the one JSON object of a step-2 answer: strips prose and code fences, then parses strictly, then
 * through jsonrepair (raw control characters in strings, trailing commas, single quotes).
 */
export function parseExampleAnswer(text: string): ParsedObject {
  const body = unfence(text);
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  if (start < 0 || end <= start)
    return { ok: false, reason: looksLikeRefusal(text) ? 'refusal' : 'malformed_json' };
  const candidate = body.slice(start, end + 1);
  let value: unknown;
  let repaired = false;
  try {
    value = JSON.parse(candidate);
  } catch {
    try {
      value = JSON.parse(jsonrepair(candidate));
      repaired = true;
    } catch {
      return { ok: false, reason: looksLikeRefusal(text) ? 'refusal' : 'malformed_json' };
    }
  }
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, reason: 'malformed_json' };
  return { ok: true, value: value as Record<string, unknown>, repaired };
}

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();

export type ParsedTasks = { ok: true; tasks: string[] } | { ok: false; reason: RejectReason };

/**
 * Reads a brainstorm answer: a JSON list, a Python-style list with single quotes, or bullet / numbered
 * lines. Tasks are trimmed, de-duplicated (case and punctuation ignored) and kept in order.
 */
export function parseTaskList(text: string): ParsedTasks {
  const body = unfence(text);
  let items: unknown[] | null = null;
  const start = body.indexOf('[');
  const end = body.lastIndexOf(']');
  if (start >= 0 && end > start) {
    const candidate = body.slice(start, end + 1);
    for (const attempt of [() => JSON.parse(candidate), () => JSON.parse(jsonrepair(candidate))]) {
      try {
        const v = attempt();
        if (Array.isArray(v)) {
          items = v;
          break;
        }
      } catch {
        // next attempt
      }
    }
  }
  if (!items) {
    const lines = body
      .split(/\r?\n/)
      .map((l) => /^\s*(?:[-*•]|\d{1,3}[.):]|\(\d{1,3}\))\s+(.+)$/.exec(l)?.[1])
      .filter((x): x is string => Boolean(x));
    if (lines.length) items = lines;
  }
  if (!items) return { ok: false, reason: looksLikeRefusal(text) ? 'refusal' : 'malformed_json' };
  const seen = new Set<string>();
  const tasks: string[] = [];
  for (const it of items) {
    if (typeof it !== 'string') continue;
    const t = it
      .trim()
      .replace(/^["'“‘]|["'”’],?$/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    const k = norm(t);
    if (k.length < 8 || seen.has(k)) continue;
    seen.add(k);
    tasks.push(t);
  }
  if (!tasks.length) return { ok: false, reason: looksLikeRefusal(text) ? 'refusal' : 'empty_task_list' };
  return { ok: true, tasks };
}
