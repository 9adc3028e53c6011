import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listModels, pullModel, removeModel, resolveModelDir } from '../../../src/main/models/hub';
import { EmbeddingModel } from '../../../src/main/models/model';
import { FIXTURES, tmpDir } from '../../helpers/tmp';

const SRC = path.join(FIXTURES, 'parity', 'bert');
const FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'modules.json',
  '1_Pooling/config.json',
  'config_sentence_transformers.json',
  'sentence_bert_config.json',
];
const SHA = 'a'.repeat(40);

/** A local server in the hub's URL layout: model info, tree listing, resolve with Range/ETag. */
function hubServer(opts: { failAfterBytes?: number; corrupt?: string } = {}) {
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
  return new Promise<{ url: string; log: typeof log; close: () => Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        log,
        close: () => new Promise((r) => server.close(() => r())),
      });
    }),
  );
}

const servers: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('models pull from a hub endpoint', () => {
  it('downloads, verifies, resumes after a dropped connection, lists and removes', async () => {
    const hub = await hubServer({ failAfterBytes: 5000 });
    servers.push(hub);
    const models = tmpDir();
    // First attempt dies mid-file and leaves a .part behind.
    await expect(pullModel(models, 'acme/tiny-bert', { endpoint: hub.url })).rejects.toThrow();
    const part = path.join(models, 'acme--tiny-bert', 'model.safetensors.part');
    expect(fs.existsSync(part)).toBe(true);
    const partial = fs.statSync(part).size;
    expect(partial).toBeGreaterThan(0);
    // Second attempt continues with a Range request from the partial size.
    const progress: number[] = [];
    const m = await pullModel(models, 'acme/tiny-bert', {
      endpoint: hub.url,
      onProgress: (p) => progress.push(p.done),
    });
    expect(m.sha).toBe(SHA);
    expect(
      hub.log.some(
        (l) =>
          l.url.endsWith('/model.safetensors') &&
          l.range === `bytes=${partial}-${fs.statSync(path.join(SRC, 'model.safetensors')).size - 1}`,
      ),
    ).toBe(true);
    for (const f of FILES)
      expect(fs.readFileSync(path.join(models, 'acme--tiny-bert', f))).toEqual(
        fs.readFileSync(path.join(SRC, f)),
      );
    expect(progress.at(-1)).toBe(FILES.reduce((a, f) => a + fs.statSync(path.join(SRC, f)).size, 0));

    // The pulled folder is a working model, addressable by id.
    const dir = resolveModelDir(models, 'acme/tiny-bert');
    const model = EmbeddingModel.load(dir, { inThread: true });
    const e = await model.embed(['the cat']);
    expect(e.length).toBe(64);
    await model.dispose();

    const list = listModels(models);
    expect(list.map((x) => [x.id, x.modelType, x.sha])).toEqual([['acme/tiny-bert', 'bert', SHA]]);
    removeModel(models, 'acme/tiny-bert');
    expect(listModels(models)).toEqual([]);
    expect(() => removeModel(models, 'acme/tiny-bert')).toThrow(/not in/);
  });

  it('rejects a file whose hash does not match and a missing repository', async () => {
    const hub = await hubServer({ corrupt: 'model.safetensors' });
    servers.push(hub);
    const models = tmpDir();
    await expect(pullModel(models, 'acme/tiny-bert', { endpoint: hub.url })).rejects.toThrow(/hash check/);
    await expect(pullModel(models, 'acme/nope', { endpoint: hub.url })).rejects.toThrow(/not found/);
  });
});
