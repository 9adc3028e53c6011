import type { RunConfig, RunState } from './config';
import type { Outcome } from './ingest';
import { costUsd } from './prices';
import { LlmError, type Provider } from './provider';
import type { Item, WorkQueue } from './queue';
import type { ErrorClass } from './reasons';
import { type Estimate, sleep } from './realtime';

/** One line of a Batch API output or error file. */
interface BatchOutputLine {
  custom_id: string;
  response?: {
    status_code: number;
    body?: {
      choices?: { message?: { content?: string } }[];
      usage?: { prompt_tokens: number; completion_tokens: number };
    };
  } | null;
  error?: { code?: string; message?: string } | null;
}

/** What the Batch API rounds need of their run (the engine). */
export interface BatchHost {
  readonly runId: string;
  readonly config: RunConfig;
  readonly queue: WorkQueue;
  readonly provider: Provider;
  readonly abort: AbortSignal;
  readonly stopReason: RunState | null;
  /** Items of the open batch, by id. */
  readonly batchOut: Map<number, Item>;
  stop(reason: RunState, error?: string): void;
  prepare(item: Item): { prompt: string; est: Estimate };
  overBudget(usd: number, tokens: number): boolean;
  /** Stores the batch id and marks its items in flight, in one transaction. */
  submitted(batchId: string, items: Item[], usd: number, tokens: number): void;
  /** The batch is over: its id is cleared and its cost reservation released. */
  closed(): void;
  push(o: Outcome): void;
  flush(): void;
}

/**
 * Batch API rounds: send everything that can be sent (brainstorms and the kinds that need none first),
 * wait for the batch, ingest its output through the same path, repeat until the plan is met. The batch
 * id is stored on the run, so a restarted process picks the open batch up instead of sending it again.
 */
export async function runBatchRounds(h: BatchHost, openBatch: string | null): Promise<void> {
  if (openBatch) await collect(h, openBatch);
  while (!h.stopReason && !h.queue.settled()) {
    const items: Item[] = [];
    const lines: string[] = [];
    let usd = 0;
    let tokens = 0;
    for (let it = h.queue.nextItem(); it; it = h.queue.nextItem()) {
      const { prompt, est } = h.prepare(it);
      if (h.overBudget(usd + est.usd, tokens + est.tokens)) {
        h.queue.requeue(it);
        break;
      }
      usd += est.usd;
      tokens += est.tokens;
      items.push(it);
      lines.push(
        JSON.stringify({
          custom_id: String(it.id),
          method: 'POST',
          url: '/v1/chat/completions',
          body: {
            model: it.model,
            messages: [{ role: 'user', content: prompt }],
            temperature: h.config.temperature,
            top_p: h.config.topP,
            ...(it.type === 'example' ? { response_format: { type: 'json_object' } } : {}),
          },
        }),
      );
    }
    h.flush();
    if (!items.length) {
      if (h.queue.settled()) break;
      const left = h.queue.sendable;
      h.stop(
        left ? 'budget' : 'failed',
        left ? undefined : 'no work item can be sent (every brainstorm failed?)',
      );
      break;
    }
    const id = await h.provider.submitBatch(lines.join('\n'), `${h.runId}-${Date.now()}`);
    h.submitted(id, items, usd, tokens);
    await collect(h, id);
  }
}

async function collect(h: BatchHost, id: string) {
  let st = await h.provider.batchStatus(id);
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(st.status)) {
    if (h.stopReason === 'cancelled' || h.stopReason === 'failed') return;
    await sleep(h.config.batchPollMs, h.abort);
    st = await h.provider.batchStatus(id);
  }
  const seen = new Set<number>();
  const lines = [
    ...(st.outputFileId ? (await h.provider.fileText(st.outputFileId)).split('\n') : []),
    ...(st.errorFileId ? (await h.provider.fileText(st.errorFileId)).split('\n') : []),
  ];
  for (const line of lines) {
    if (!line.trim()) continue;
    let rec: BatchOutputLine;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const item = h.batchOut.get(Number(rec.custom_id));
    if (!item || seen.has(item.id)) continue;
    seen.add(item.id);
    h.push(outcomeOf(h.config, item, rec));
  }
  // Items the batch never answered (expired, failed) count as failed requests; topUp replaces them.
  for (const item of [...h.batchOut.values()])
    if (!seen.has(item.id))
      h.push({
        item,
        attempts: [],
        failure: new LlmError(
          `batch ${id} ended ${st.status} without an answer`,
          st.status === 'expired' ? 'timeout' : 'server',
        ),
        estUsd: 0,
        estTokens: 0,
      });
  h.closed();
  h.flush();
}

/** One output line → the item's outcome (an answer, or a failure classified by its status). */
export function outcomeOf(config: RunConfig, item: Item, rec: BatchOutputLine): Outcome {
  item.attempts++;
  const body = rec.response?.body;
  const text = body?.choices?.[0]?.message?.content;
  const status = rec.response?.status_code ?? 0;
  const pt = body?.usage?.prompt_tokens ?? 0;
  const ct = body?.usage?.completion_tokens ?? 0;
  const ok = Boolean(text) && status < 400;
  const cls: ErrorClass | null = ok
    ? null
    : status === 429
      ? 'rate_limit'
      : status >= 500
        ? 'server'
        : status >= 400
          ? 'bad_request'
          : 'empty';
  const error = ok ? null : (rec.error?.message ?? `status ${status}`);
  const att = {
    model: item.model,
    kind: item.kind,
    attempt: item.attempts,
    promptTokens: pt,
    completionTokens: ct,
    costUsd: costUsd(config.prices, item.model, pt, ct, true),
    latencyMs: 0,
    status: ok ? ('ok' as const) : ('error' as const),
    errorClass: cls,
    error,
  };
  return ok
    ? {
        item,
        attempts: [att],
        answer: { text: text!, promptTokens: pt, completionTokens: ct, latencyMs: 0, jsonMode: true },
        estUsd: 0,
        estTokens: 0,
      }
    : { item, attempts: [att], failure: new LlmError(error!, cls!, status), estUsd: 0, estTokens: 0 };
}
