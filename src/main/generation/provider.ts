import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AzureOpenAI,
  toFile,
} from 'openai';
import { createFetch } from './fetch';
import { redactSecrets } from '../../shared/redact';
import type { ErrorClass } from './reasons';

export interface ProviderOptions {
  /** OpenAI-compatible base URL (…/v1), or the Azure endpoint when azureApiVersion is set. */
  baseUrl?: string;
  apiKey: string;
  /** Set for Azure OpenAI: the api-version query parameter; model names are deployment names. */
  azureApiVersion?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

export interface ChatResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  /** False when the server refused response_format and we asked again without it. */
  jsonMode: boolean;
}

/** Sampling settings of one chat call; `json` asks for JSON mode where the server has it. */
export interface ChatParams {
  temperature: number;
  topP: number;
  json: boolean;
}

/** What the queue needs of a provider: one chat call (in this thread or the HTTP worker's). */
export interface ChatClient {
  chat(model: string, prompt: string, p: ChatParams & { signal?: AbortSignal }): Promise<ChatResult>;
}

/** A failed LLM call, classified for retry decisions and for counting failed requests per class. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly cls: ErrorClass | 'aborted',
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'LlmError';
  }
  get retryable(): boolean {
    return (
      this.cls === 'rate_limit' ||
      this.cls === 'server' ||
      this.cls === 'timeout' ||
      this.cls === 'network' ||
      this.cls === 'empty'
    );
  }
}

/** Retry-After (seconds or an HTTP date) or retry-after-ms, in milliseconds. */
export function retryAfterMs(headers: Headers | undefined | null): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (!ra) return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const t = Date.parse(ra);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

export function classify(e: unknown): LlmError {
  if (e instanceof LlmError) return e;
  if (e instanceof APIUserAbortError) return new LlmError('aborted', 'aborted');
  if (e instanceof APIConnectionTimeoutError) return new LlmError('request timed out', 'timeout');
  if (e instanceof APIConnectionError) return new LlmError(`connection failed: ${e.message}`, 'network');
  if (e instanceof APIError) {
    const s = e.status ?? 0;
    const cls: ErrorClass =
      s === 429
        ? 'rate_limit'
        : s >= 500
          ? 'server'
          : s === 401 || s === 403
            ? 'auth'
            : s >= 400 && s < 500
              ? 'bad_request'
              : 'other';
    // A 408 (request timeout) from a proxy is worth retrying like our own timeout.
    return new LlmError(`HTTP ${s}: ${e.message}`, s === 408 ? 'timeout' : cls, s, retryAfterMs(e.headers));
  }
  if ((e as Error)?.name === 'AbortError') return new LlmError('aborted', 'aborted');
  return new LlmError((e as Error)?.message ?? String(e), 'other');
}

const JSON_UNSUPPORTED =
  /response_format|json_object|json mode|not supported|unsupported|unknown (field|parameter)|extra (fields|inputs)/i;

/** One OpenAI / Azure OpenAI / OpenAI-compatible endpoint through the official SDK (its own retries off). */
export class Provider implements ChatClient {
  readonly client: OpenAI;
  /** Models whose server refused response_format: asked without it from then on. */
  readonly noJsonMode = new Set<string>();

  constructor(readonly opts: ProviderOptions) {
    const common = {
      apiKey: opts.apiKey,
      defaultHeaders: opts.headers,
      timeout: opts.timeoutMs,
      maxRetries: 0,
      fetch: createFetch(),
    };
    this.client = opts.azureApiVersion
      ? new AzureOpenAI({ ...common, endpoint: opts.baseUrl, apiVersion: opts.azureApiVersion })
      : new OpenAI({ ...common, baseURL: opts.baseUrl });
  }

  async chat(model: string, prompt: string, p: ChatParams & { signal?: AbortSignal }): Promise<ChatResult> {
    const t0 = performance.now();
    let json = p.json && !this.noJsonMode.has(model);
    for (;;) {
      try {
        const r = await this.client.chat.completions.create(
          {
            model,
            messages: [{ role: 'user', content: prompt }],
            temperature: p.temperature,
            top_p: p.topP,
            ...(json ? { response_format: { type: 'json_object' as const } } : {}),
          },
          { signal: p.signal, timeout: this.opts.timeoutMs, maxRetries: 0 },
        );
        const text = r.choices?.[0]?.message?.content;
        if (typeof text !== 'string' || !text) throw new LlmError('answer without message content', 'empty');
        return {
          text,
          promptTokens: r.usage?.prompt_tokens ?? Math.ceil(prompt.length / 4),
          completionTokens: r.usage?.completion_tokens ?? Math.ceil(text.length / 4),
          latencyMs: Math.round(performance.now() - t0),
          jsonMode: json,
        };
      } catch (e) {
        if (json && e instanceof APIError && e.status === 400 && JSON_UNSUPPORTED.test(e.message)) {
          this.noJsonMode.add(model);
          json = false;
          continue;
        }
        // Before anything stores or shows it: some servers echo the key in a 401 (issue #21, item 16).
        const err = classify(e);
        const secrets = [this.opts.apiKey, ...Object.values(this.opts.headers ?? {})];
        err.message = redactSecrets(err.message, secrets);
        throw err;
      }
    }
  }

  /** Batch API: uploads the JSONL and creates a 24h chat-completions batch; returns the batch id. */
  async submitBatch(jsonl: string, name: string): Promise<string> {
    const file = await this.client.files.create({
      file: await toFile(Buffer.from(jsonl, 'utf8'), `${name}.jsonl`, { type: 'application/jsonl' }),
      purpose: 'batch',
    });
    const batch = await this.client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    return batch.id;
  }

  async batchStatus(
    id: string,
  ): Promise<{ status: string; outputFileId: string | null; errorFileId: string | null }> {
    const b = await this.client.batches.retrieve(id);
    return { status: b.status, outputFileId: b.output_file_id ?? null, errorFileId: b.error_file_id ?? null };
  }

  async fileText(id: string): Promise<string> {
    const r = await this.client.files.content(id);
    return r.text();
  }
}
