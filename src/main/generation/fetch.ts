import { Agent, request } from 'undici';

/**
 * The `fetch` the openai SDK is given (its documented `fetch` option): undici's `request` API under a
 * WHATWG `Response`. Why not the global fetch: at 64 requests in flight the global fetch's stream machinery
 * cost ~0.37 CPU ms per chat call inside the SDK against ~0.20 ms this way (bench/generation, 2 cores), and
 * on a small machine the HTTP client is what caps the queue. Answers are small JSON documents, so buffering
 * the body loses nothing. Bodies other than a string or bytes (the Batch API's multipart upload) and Request
 * inputs go to the global fetch unchanged.
 *
 * The SDK owns timeouts (its AbortSignal) and retries, so undici's own header/body timeouts are off: a slow
 * model may take minutes before its first byte.
 */
export function createFetch(): typeof fetch {
  const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  return async (input, init = {}) => {
    const body = init.body;
    if (
      input instanceof Request ||
      (body != null && typeof body !== 'string' && !(body instanceof Uint8Array))
    )
      return fetch(input, init);
    const headers: Record<string, string> = {};
    const given = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
    given.forEach((v, k) => {
      headers[k] = v;
    });
    let method = (init.method ?? 'GET').toUpperCase();
    let url = String(input);
    let sent: string | Uint8Array | undefined = body ?? undefined;
    // Redirects as fetch follows them (303, and 301/302 after a POST, turn into a body-less GET); by hand
    // rather than undici's redirect interceptor, which cost ~1.6% of the main thread on every request.
    for (let hops = 0; ; hops++) {
      const r = await request(url, {
        method: method as 'GET',
        headers,
        body: sent,
        signal: init.signal ?? undefined,
        dispatcher,
      });
      const location = r.headers.location;
      if (REDIRECTS.has(r.statusCode) && typeof location === 'string' && hops < 5) {
        await r.body.dump();
        url = new URL(location, url).href;
        if (r.statusCode === 303 || ((r.statusCode === 301 || r.statusCode === 302) && method === 'POST')) {
          if (method !== 'HEAD') method = 'GET';
          sent = undefined;
          delete headers['content-type'];
          delete headers['content-length'];
        }
        continue;
      }
      const bytes = new Uint8Array(await r.body.arrayBuffer());
      const out = new Headers();
      for (const [k, v] of Object.entries(r.headers)) {
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) out.append(k, x);
        else out.append(k, v);
      }
      // A Response with one of these statuses must not have a body (the constructor throws).
      const empty = method === 'HEAD' || r.statusCode === 204 || r.statusCode === 205 || r.statusCode === 304;
      return bufferedResponse(empty ? EMPTY : bytes, { status: r.statusCode, headers: out });
    }
  };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

/**
 * A Response over bytes already read. A plain `new Response(bytes)` wraps them in a ReadableStream that
 * `.json()` reads back chunk by chunk: ~10 KB of garbage and a good part of the client's CPU per answer.
 * The body readers are overridden (same contract: one read, then bodyUsed); the body stream is still there
 * for code that asks for it, built on first use. A subclass rather than properties defined per instance:
 * eight closures and a dictionary-mode object per answer cost about as much as the rest of the Response.
 */
// Typed loosely: lib.dom declares the body readers as properties, which a subclass may not turn into methods.
const ResponseBase = Response as unknown as new (
  body: null,
  init: ResponseInit,
) => { readonly headers: Headers; readonly status: number; readonly statusText: string };

class BufferedResponse extends ResponseBase {
  #bytes: Uint8Array<ArrayBuffer>;
  #used = false;
  #stream: ReadableStream<Uint8Array> | null | undefined;

  constructor(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit) {
    super(null, init);
    this.#bytes = bytes;
  }

  #take(): Uint8Array<ArrayBuffer> {
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#stream === undefined)
      this.#stream = this.#bytes.byteLength ? new Blob([this.#bytes]).stream() : null;
    return this.#stream as ReadableStream<Uint8Array<ArrayBuffer>> | null;
  }
  get bodyUsed(): boolean {
    return this.#used;
  }
  async text(): Promise<string> {
    return utf8.decode(this.#take());
  }
  async json(): Promise<unknown> {
    return JSON.parse(utf8.decode(this.#take()));
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    return copy(this.#take());
  }
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(copy(this.#take()));
  }
  async blob(): Promise<Blob> {
    return new Blob([this.#take()], { type: this.headers.get('content-type') ?? '' });
  }
  clone(): Response {
    if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
    return bufferedResponse(this.#bytes, {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
  }
}

const copy = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

function bufferedResponse(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit): Response {
  return new BufferedResponse(bytes, init) as unknown as Response;
}
