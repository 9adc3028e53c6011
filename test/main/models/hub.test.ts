import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listModels, pullModel, removeModel, resolveModelDir } from '../../../src/main/models/hub';
import { EmbeddingModel } from '../../../src/main/models/model';
import { tmpDir } from '../../helpers/tmp';
import { FILES, hubServer, SHA, SRC } from './hub-server';

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
