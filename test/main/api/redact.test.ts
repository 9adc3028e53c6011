// A provider that echoes the API key in its 401 (some proxies and self-hosted servers do): the key must reach
// neither the database nor what the API returns.
import { afterEach, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/main/api';
import { createSecretStore } from '../../../src/main/api/secrets';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import { startLlmServer, type LlmServer } from '../../helpers/llm-server';
import { tmpDir } from '../../helpers/tmp';

let wb: Workbench | undefined;
let llm: LlmServer | undefined;
afterEach(async () => {
  await llm?.close();
  wb?.close();
  llm = undefined;
  wb = undefined;
});

const KEY = 'sk-test-0123456789abcdefSECRETSECRET';

describe('secrets in provider errors', () => {
  it('redacts a configured key from every stored and returned error', async () => {
    llm = await startLlmServer({
      script: (c) => ({
        status: 401,
        message: `Incorrect API key provided: ${String(c.headers?.authorization).replace('Bearer ', '')}.`,
      }),
    });
    wb = openWorkbench({ home: tmpDir() });
    const api = createApi(wb, { transport: 'http', secrets: createSecretStore(null) });
    await api.caller.secrets.set({ name: 'openai', value: KEY });
    await api.caller.datasets.create({ name: 'g' });
    const { runId } = await api.caller.generation.start({
      dataset: 'g',
      count: 4,
      models: 'gpt-4o-mini',
      baseUrl: llm.url,
    });
    await expect
      .poll(async () => (await api.caller.generation.summary({ runId })).state, { timeout: 20_000 })
      .toBe('failed');
    expect(llm.counts.status[401]).toBeGreaterThan(0);
    const summary = JSON.stringify(await api.caller.generation.summary({ runId }));
    const failures = await api.caller.generation.failures({ runId });
    expect(failures.length).toBeGreaterThan(0);
    // The message is kept, the key is not.
    expect(failures[0].error).toMatch(/Incorrect API key provided: \[redacted\]/);
    expect(summary).not.toContain(KEY);
    expect(JSON.stringify(failures)).not.toContain(KEY);
    // Nowhere in the database: every text column of every table.
    const db = wb.store.db;
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%'")
      .pluck()
      .all() as string[];
    for (const t of tables) {
      const cols = (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
      const hits = db
        .prepare(
          `SELECT count(*) FROM ${t} WHERE ${cols.map((c) => `instr(CAST(${c} AS TEXT), ?) > 0`).join(' OR ')}`,
        )
        .pluck()
        .get(...cols.map(() => KEY));
      expect(hits, t).toBe(0);
    }
  }, 30_000);

  it('redacts a configured key from the rejected answers the Generate screen previews', async () => {
    // A row stored before the key was configured (or by an older version) still carries it: what the API
    // returns is redacted whichever screen asks.
    wb = openWorkbench({ home: tmpDir() });
    const api = createApi(wb, { transport: 'http', secrets: createSecretStore(null) });
    await api.caller.secrets.set({ name: 'openai', value: KEY });
    await api.caller.datasets.create({ name: 'g' });
    const db = wb.store.db;
    const ds = wb.store.datasets.get('g');
    db.prepare("INSERT INTO generation_runs (id, dataset_id, config_json) VALUES ('r1', ?, '{}')").run(ds.id);
    db.prepare(
      `INSERT INTO generation_requests (run_id, model, status, error, reject_reason, raw_answer)
       VALUES ('r1', 'm', 'rejected', ?, 'bad_json', '{')`,
    ).run(`proxy said: key ${KEY} is over quota`);
    const preview = await api.caller.generationTools.preview({ dataset: 'g' });
    expect(preview.rejected).toHaveLength(1);
    expect(preview.rejected[0].error).toBe('proxy said: key [redacted] is over quota');
    const failures = await api.caller.generation.failures({ runId: 'r1' });
    expect(failures.map((f) => f.error)).toEqual(preview.rejected.map((f) => f.error));
  });
});
