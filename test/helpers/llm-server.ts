import http from 'node:http';
import type { AddressInfo } from 'node:net';
import languageFile from '../../resources/languages.json';
import { BANK_ALIAS, NO_SPACE, WORD_BANKS } from './word-banks';

/**
 * A local OpenAI-compatible server speaking chat completions, files and batches over real HTTP, for tests
 * and the benchmark. By default it answers every prompt of Embedsmith's built-in templates with a valid
 * answer in the requested kind and language ("auto"); a script can replace any answer with a fault.
 */

export interface ChatCall {
  /** 0-based arrival order over all chat calls (batch lines included). */
  n: number;
  model: string;
  prompt: string;
  body: Record<string, unknown>;
  via: 'chat' | 'batch';
  /** Arrival time (ms since epoch). */
  at: number;
  /** Request headers (chat calls only). */
  headers?: http.IncomingHttpHeaders;
  /** Request path and query (chat calls only), e.g. the Azure deployment URL. */
  path?: string;
}

export type Reply =
  | { content: string }
  | { status: number; message?: string; headers?: Record<string, string> }
  | { hang: true }
  | 'auto';

export interface LlmServerOptions {
  /** Ids `/v1/models` lists (default ['test-model']). */
  models?: string[];
  /** The only key `/v1/models` accepts (default: any). */
  apiKey?: string;
  /** Delay before every chat answer (ms). */
  latencyMs?: number;
  /** Return a fault or a custom answer for a call; 'auto' (or undefined) gives the auto answer. */
  script?: (call: ChatCall) => Reply | undefined;
  /** When false, a request with response_format gets HTTP 400 (like servers without JSON mode). */
  jsonMode?: boolean;
  /** Polls of a batch before it reports completed. */
  batchPolls?: number;
  /** Seed of the auto answers' word choice. */
  seed?: number;
  /**
   * Holds a chat call's answer until the returned promise settles (undefined: answer at once), so a test
   * can keep calls on the wire until something happened instead of guessing how long that takes.
   */
  hold?: (call: ChatCall) => Promise<unknown> | undefined;
}

/** A gate for `hold`: calls wait at it until `open()`; `arrived(n)` resolves once n calls are waiting. */
export function gate() {
  let release: () => void = () => {};
  const opened = new Promise<void>((r) => {
    release = r;
  });
  let waiting = 0;
  const watchers: { n: number; resolve: () => void }[] = [];
  return {
    wait(): Promise<void> {
      waiting++;
      for (const w of watchers.filter((x) => waiting >= x.n)) w.resolve();
      return opened;
    },
    arrived(n: number): Promise<void> {
      if (waiting >= n) return Promise.resolve();
      return new Promise((resolve) => watchers.push({ n, resolve }));
    },
    open: () => release(),
  };
}

export interface LlmServer {
  /** Base URL including /v1. */
  url: string;
  calls: ChatCall[];
  counts: {
    chat: number;
    status: Record<number, number>;
    files: number;
    batches: number;
    /** Chat requests being answered now, and the most at any moment (the client's concurrency). */
    inFlight: number;
    maxInFlight: number;
  };
  close(): Promise<void>;
}

// ---------------------------------------------------------------- auto answers

const NAME_TO_CODE = new Map(languageFile.languages.map((l) => [l.name, l.code]));

class Rand {
  constructor(private s: number) {}
  next() {
    this.s = (Math.imul(this.s ^ (this.s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return this.s / 4294967296;
  }
  int(n: number) {
    return Math.floor(this.next() * n);
  }
}

const SYLLABLES = 'ka lo mi tu ne ra si po va du ze ho ba ki mu ye ta ri no wa'.split(' ');

// Each word bank split once (the bench asks for ~20,000 texts; splitting a bank per text was a third of
// the server's CPU per answer, on the 2 cores it shares with the client).
const SPLIT_BANKS = new Map<string, string[] | undefined>();
const bankOf = (code: string) => {
  if (!SPLIT_BANKS.has(code)) SPLIT_BANKS.set(code, WORD_BANKS[code]?.split(' '));
  return SPLIT_BANKS.get(code);
};

/** Text of at least `words` words (for no-space scripts: 1.5 × words characters) in `lang`. */
export function textIn(lang: string, words: number, r: Rand): string {
  const code = BANK_ALIAS[lang] ?? lang;
  const bank = bankOf(code);
  const pick = () =>
    bank ? bank[r.int(bank.length)] : `${SYLLABLES[r.int(20)]}${SYLLABLES[r.int(20)]}${SYLLABLES[r.int(20)]}`;
  const out: string[] = [];
  if (NO_SPACE.has(lang) || NO_SPACE.has(code)) {
    let len = 0;
    while (len < Math.ceil(words * 1.5) + 2) {
      const w = pick();
      out.push(w);
      len += w.length;
    }
    return `${out.join('')}。`;
  }
  for (let i = 0; i < words; i++) out.push(pick());
  return `${out.join(' ')}.`;
}

let answerCounter = 0;

/** Text in a language from a seed (for scripted faults such as a wrong-language answer). */
export const textInLanguage = (lang: string, words: number, seed: number) =>
  textIn(lang, words, new Rand(seed));

/** Which kind of Embedsmith prompt this is (by the JSON keys it asks for), or 'brainstorm'. */
export function promptKind(prompt: string): string {
  if (/Python list/i.test(prompt)) return 'brainstorm';
  if (prompt.includes('"user_query"')) return 'short-long';
  if (prompt.includes('"input_text"')) return 'long-short';
  if (prompt.includes('"input"')) return /at least 300 words/.test(prompt) ? 'long-long' : 'short-short';
  if (prompt.includes('S2 and S3 are written in')) return 'bitext';
  if (prompt.includes('"S1"')) return 'sts';
  return 'unknown';
}

/** A valid answer to one of Embedsmith's built-in prompts (brainstorm or example of any kind). */
export function autoAnswer(prompt: string, seed = 1): string {
  const r = new Rand((seed * 2654435761 + ++answerCounter * 40503) >>> 0);
  const uniq = `${answerCounter}${r.int(1e6)}`;
  if (/Python list/i.test(prompt)) {
    const topics = [
      'contracts',
      'recipes',
      'protein folding',
      'tax forms',
      'river ecology',
      'chess openings',
      'bus timetables',
      'poetry',
    ];
    const tasks = Array.from(
      { length: 20 },
      (_, i) =>
        `Given a request about ${topics[(i + answerCounter) % topics.length]} number ${uniq}-${i}, find documents that answer it.`,
    );
    return JSON.stringify(tasks);
  }
  const lang = (re: RegExp) => NAME_TO_CODE.get(re.exec(prompt)?.[1]?.trim() ?? '') ?? 'en';
  const words = (re: RegExp, dflt: number) => Number(re.exec(prompt)?.[1] ?? dflt);
  if (prompt.includes('"user_query"')) {
    const l = lang(/Write every value in (.+?)\.\n/);
    const n = words(/Each document has at least (\d+) words/, 50);
    return JSON.stringify({
      user_query: `${textIn(l, 4, r)} ${uniq}`,
      positive_document: textIn(l, n + 5, r),
      hard_negative_document: textIn(l, n + 5, r),
    });
  }
  if (prompt.includes('"input_text"')) {
    const l = lang(/Write every value in (.+?)\.\n/);
    const n = words(/of at least (\d+) words/, 12);
    return JSON.stringify({
      input_text: textIn(l, Math.max(n + 5, 12), r),
      label: `label ${uniq}`,
      misleading_label: `other ${uniq}`,
    });
  }
  if (prompt.includes('"input"')) {
    const l = lang(/Write every value in (.+?)\.\n/);
    const long = /at least 300 words/.test(prompt);
    return JSON.stringify({
      input: textIn(l, long ? 310 : 8, r),
      positive_document: textIn(l, long ? 310 : 8, r),
    });
  }
  if (prompt.includes('"S1"')) {
    const bi = /S1 is written in (.+?); S2 and S3 are written in (.+?)\.\n/.exec(prompt);
    const src = bi ? (NAME_TO_CODE.get(bi[1]) ?? 'en') : lang(/Write all three texts in (.+?)\.\n/);
    const tgt = bi ? (NAME_TO_CODE.get(bi[2]) ?? 'en') : src;
    return JSON.stringify({ S1: textIn(src, 12, r), S2: textIn(tgt, 12, r), S3: textIn(tgt, 12, r) });
  }
  return JSON.stringify({ answer: textIn('en', 10, r) });
}

// ---------------------------------------------------------------- server

function completion(model: string, content: string, prompt: string) {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: Math.ceil(prompt.length / 4),
      completion_tokens: Math.ceil(content.length / 4),
      total_tokens: Math.ceil(prompt.length / 4) + Math.ceil(content.length / 4),
    },
  };
}

const readBody = (req: http.IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });

function multipartFile(body: Buffer, contentType: string): { filename: string; content: string } {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const b = boundary?.[1] ?? boundary?.[2] ?? '';
  const text = body.toString('utf8');
  for (const part of text.split(`--${b}`)) {
    if (!/name="file"/.test(part)) continue;
    const i = part.indexOf('\r\n\r\n');
    const filename = /filename="([^"]*)"/.exec(part)?.[1] ?? 'file';
    return { filename, content: part.slice(i + 4).replace(/\r\n$/, '') };
  }
  return { filename: 'file', content: '' };
}

export async function startLlmServer(opts: LlmServerOptions = {}): Promise<LlmServer> {
  const calls: ChatCall[] = [];
  const counts = {
    chat: 0,
    status: {} as Record<number, number>,
    files: 0,
    batches: 0,
    inFlight: 0,
    maxInFlight: 0,
  };
  const files = new Map<string, { filename: string; content: string; purpose: string }>();
  const batches = new Map<string, { obj: Record<string, unknown>; polls: number }>();
  let n = 0;
  let ids = 0;
  const seed = opts.seed ?? 1;

  const decide = (call: ChatCall): Reply => {
    const r = opts.script?.(call);
    return r === undefined ? 'auto' : r;
  };
  const contentOf = (reply: Reply, call: ChatCall) =>
    reply === 'auto' ? autoAnswer(call.prompt, seed) : (reply as { content: string }).content;

  const send = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    counts.status[status] = (counts.status[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      // Azure OpenAI puts the deployment in the path: /openai/deployments/{name}/chat/completions?api-version=…
      const path = url.pathname
        .replace(/^\/v1/, '')
        .replace(/^\/openai\/deployments\/[^/]+\/chat\/completions$/, '/chat/completions');
      const raw = await readBody(req);
      if (req.method === 'POST' && path === '/chat/completions') {
        const body = JSON.parse(raw.toString('utf8')) as {
          model: string;
          messages: { content: string }[];
          response_format?: unknown;
        };
        if (body.response_format && opts.jsonMode === false)
          return send(res, 400, {
            error: {
              message: 'Unrecognized request argument supplied: response_format',
              type: 'invalid_request_error',
            },
          });
        const call: ChatCall = {
          n: n++,
          model: body.model,
          prompt: body.messages.map((m) => m.content).join('\n'),
          body,
          via: 'chat',
          at: Date.now(),
          headers: req.headers,
          path: req.url,
        };
        calls.push(call);
        counts.chat++;
        const reply = decide(call);
        if (typeof reply === 'object' && 'hang' in reply) return; // never answered; the client times out
        counts.inFlight++;
        counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
        await opts.hold?.(call);
        await new Promise((r) => setTimeout(r, opts.latencyMs ?? 0));
        counts.inFlight--;
        if (typeof reply === 'object' && 'status' in reply)
          return send(
            res,
            reply.status,
            { error: { message: reply.message ?? `status ${reply.status}`, type: 'server_error' } },
            reply.headers,
          );
        return send(res, 200, completion(body.model, contentOf(reply, call), call.prompt));
      }
      // The model list (`/v1/models`); with `apiKey` set, other keys get 401 as from a real provider.
      if (req.method === 'GET' && path === '/models') {
        if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`)
          return send(res, 401, {
            error: { message: 'Incorrect API key provided', type: 'invalid_request_error' },
          });
        return send(res, 200, {
          object: 'list',
          data: (opts.models ?? ['test-model']).map((id) => ({ id, object: 'model', owned_by: 'test' })),
        });
      }
      if (req.method === 'POST' && path === '/files') {
        counts.files++;
        const f = multipartFile(raw, String(req.headers['content-type'] ?? ''));
        const id = `file-${++ids}`;
        files.set(id, { ...f, purpose: 'batch' });
        return send(res, 200, {
          id,
          object: 'file',
          bytes: Buffer.byteLength(f.content),
          created_at: Math.floor(Date.now() / 1000),
          filename: f.filename,
          purpose: 'batch',
          status: 'processed',
        });
      }
      const content = /^\/files\/([^/]+)\/content$/.exec(path);
      if (req.method === 'GET' && content) {
        const f = files.get(content[1]);
        if (!f) return send(res, 404, { error: { message: 'no such file' } });
        counts.status[200] = (counts.status[200] ?? 0) + 1;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(f.content);
      }
      if (req.method === 'POST' && path === '/batches') {
        counts.batches++;
        const body = JSON.parse(raw.toString('utf8')) as {
          input_file_id: string;
          endpoint: string;
          completion_window: string;
        };
        const input = files.get(body.input_file_id);
        if (!input) return send(res, 400, { error: { message: 'unknown input_file_id' } });
        const id = `batch_${++ids}`;
        const obj: Record<string, unknown> = {
          id,
          object: 'batch',
          endpoint: body.endpoint,
          input_file_id: body.input_file_id,
          completion_window: body.completion_window,
          status: 'in_progress',
          output_file_id: null,
          error_file_id: null,
          created_at: Math.floor(Date.now() / 1000),
        };
        batches.set(id, { obj, polls: 0 });
        // Answer every line now; the batch reports completed after `batchPolls` polls.
        const out: string[] = [];
        for (const line of input.content.split('\n')) {
          if (!line.trim()) continue;
          const l = JSON.parse(line) as {
            custom_id: string;
            body: { model: string; messages: { content: string }[] };
          };
          const call: ChatCall = {
            n: n++,
            model: l.body.model,
            prompt: l.body.messages.map((m) => m.content).join('\n'),
            body: l.body,
            via: 'batch',
            at: Date.now(),
          };
          calls.push(call);
          const reply = decide(call);
          if (typeof reply === 'object' && ('status' in reply || 'hang' in reply)) {
            const status = 'status' in reply ? reply.status : 408;
            out.push(
              JSON.stringify({
                id: `br-${ids}`,
                custom_id: l.custom_id,
                response: { status_code: status, body: { error: { message: 'fault' } } },
                error: null,
              }),
            );
            continue;
          }
          out.push(
            JSON.stringify({
              id: `br-${ids}`,
              custom_id: l.custom_id,
              response: {
                status_code: 200,
                request_id: 'r',
                body: completion(l.body.model, contentOf(reply, call), call.prompt),
              },
              error: null,
            }),
          );
        }
        const outId = `file-${++ids}`;
        files.set(outId, { filename: 'output.jsonl', content: out.join('\n'), purpose: 'batch_output' });
        obj.pending_output = outId;
        return send(res, 200, { ...obj, pending_output: undefined });
      }
      const bget = /^\/batches\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && bget) {
        const b = batches.get(bget[1]);
        if (!b) return send(res, 404, { error: { message: 'no such batch' } });
        b.polls++;
        if (b.polls >= (opts.batchPolls ?? 1)) {
          b.obj.status = 'completed';
          b.obj.output_file_id = b.obj.pending_output;
        }
        return send(res, 200, { ...b.obj, pending_output: undefined });
      }
      send(res, 404, { error: { message: `no route ${req.method} ${path}` } });
    } catch (e) {
      send(res, 500, { error: { message: (e as Error).message } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
