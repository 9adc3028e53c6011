// A local HTTP server in the Hugging Face hub's URL layout serving the bert parity folder as acme/tiny-bert.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FIXTURES } from '../../helpers/tmp';

export const SRC = path.join(FIXTURES, 'parity', 'bert');
export const FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'modules.json',
  '1_Pooling/config.json',
  'config_sentence_transformers.json',
  'sentence_bert_config.json',
];
export const SHA = 'a'.repeat(40);

/** A local server in the hub's URL layout: model info, tree listing, resolve with Range/ETag. */
export function hubServer(opts: { failAfterBytes?: number; corrupt?: string; holdAfterBytes?: number } = {}) {
  // holdAfterBytes: the first big download sends that many bytes, then waits (a stalled transfer) until
  // release(); later requests are served whole.
  const held: http.ServerResponse[] = [];
  let holding = opts.holdAfterBytes !== undefined;
  const log: { url: string; range?: string }[] = [];
  let served = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    log.push({ url: url.pathname, range: req.headers.range });
    if (url.pathname === '/api/models/acme/tiny-bert/revision/main') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          _id: 'x',
          id: 'acme/tiny-bert',
          sha: SHA,
          private: false,
          downloads: 0,
          likes: 0,
          lastModified: new Date().toISOString(),
        }),
      );
      return;
    }
    if (url.pathname === `/api/models/acme/tiny-bert/tree/${SHA}`) {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(
          FILES.map((f) => {
            const b = fs.readFileSync(path.join(SRC, f));
            const big = f.endsWith('.safetensors');
            return {
              type: 'file',
              path: f,
              size: big ? 134 : b.length,
              oid: crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex'),
              ...(big
                ? {
                    lfs: {
                      oid: crypto.createHash('sha256').update(b).digest('hex'),
                      size: b.length,
                      pointerSize: 134,
                    },
                  }
                : {}),
            };
          }),
        ),
      );
      return;
    }
    const m = /^\/acme\/tiny-bert\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m && m[1] === SHA && FILES.includes(m[2])) {
      let body = fs.readFileSync(path.join(SRC, m[2]));
      if (opts.corrupt === m[2]) body = Buffer.from(body.map((x, i) => (i === body.length - 1 ? x ^ 1 : x)));
      const total = body.length;
      let start = 0;
      let end = total - 1;
      const r = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      if (r) {
        start = Number(r[1]);
        end = r[2] ? Math.min(Number(r[2]), total - 1) : total - 1;
      }
      res.statusCode = r ? 206 : 200;
      res.setHeader('ETag', `"${crypto.createHash('sha256').update(body).digest('hex')}"`);
      res.setHeader('Accept-Ranges', 'bytes');
      if (r) res.setHeader('Content-Range', `bytes ${start}-${end}/${total}`);
      const chunk = body.subarray(start, end + 1);
      if (holding && m[2] === 'model.safetensors' && chunk.length > 1) {
        holding = false;
        res.setHeader('Content-Length', String(chunk.length));
        res.write(chunk.subarray(0, opts.holdAfterBytes));
        held.push(res);
        return;
      }
      // Simulate a dropped connection once, mid-file, on the big download.
      if (
        opts.failAfterBytes !== undefined &&
        m[2] === 'model.safetensors' &&
        chunk.length > 1 &&
        served === 0
      ) {
        served = 1;
        res.setHeader('Content-Length', String(chunk.length));
        res.write(chunk.subarray(0, opts.failAfterBytes));
        setTimeout(() => res.destroy(), 20);
        return;
      }
      res.setHeader('Content-Length', String(chunk.length));
      res.end(chunk);
      return;
    }
    res.statusCode = 404;
    res.setHeader('X-Error-Code', 'EntryNotFound');
    res.end('not found');
  });
  return new Promise<{ url: string; log: typeof log; release: () => void; close: () => Promise<void> }>(
    (resolve) =>
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        resolve({
          url: `http://127.0.0.1:${port}`,
          log,
          release: () => {
            for (const r of held.splice(0)) r.destroy();
          },
          close: () =>
            new Promise((r) => {
              for (const h of held.splice(0)) h.destroy();
              server.close(() => r());
            }),
        });
      }),
  );
}
