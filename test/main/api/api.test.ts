import fs from 'node:fs';
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppEvent } from '../../../src/shared/contract';
import type { NewExample } from '../../../src/shared/domain';
import { type Api, createApi } from '../../../src/main/api';
import { openWorkbench, type Workbench } from '../../../src/main/workbench';
import { tmpDir } from '../../helpers/tmp';

let wb: Workbench | undefined;
afterEach(() => {
  wb?.close();
  wb = undefined;
});

function setup(): { wb: Workbench; api: Api } {
  wb = openWorkbench({ home: tmpDir() });
  return { wb, api: createApi(wb, { transport: 'http' }) };
}

const rows = (n: number): NewExample[] =>
  Array.from({ length: n }, (_, i) => ({
    kind: (['short-long', 'sts', 'bitext'] as const)[i % 3],
    language: i % 2 ? 'en' : 'fr',
    query: `query number ${i} about ${i % 5 ? 'rivers' : 'mountains'}`,
    positive: `positive ${i}`,
    negative: `negative ${i}`,
    generatorModel: i % 4 ? 'model-a' : 'model-b',
  }));

/** Collects events from the API's stream until `n` arrived or the timeout. */
async function collect(api: Api, n: number, during: () => Promise<unknown>): Promise<AppEvent[]> {
  const ac = new AbortController();
  const out: AppEvent[] = [];
  const it = api.createContext().svc.events(ac.signal)[Symbol.asyncIterator]();
  const reading = (async () => {
    while (out.length < n) {
      const r = await it.next();
      if (r.done) break;
      out.push(r.value);
    }
  })();
  await during();
  await Promise.race([reading, new Promise((r) => setTimeout(r, 2000))]);
  ac.abort();
  return out;
}

describe('API router over the workbench', () => {
  it('pages a dataset by keyset in every sort order without gaps or repeats', async () => {
    const { wb, api } = setup();
    await api.caller.datasets.create({ name: 'p' });
    const d = wb.store.datasets.get('p');
    wb.store.examples.insertMany(d.id, rows(250));
    for (const [sort, desc] of [
      ['id', false],
      ['id', true],
      ['kind', false],
      ['language', true],
      ['status', false],
    ] as const) {
      const seen: number[] = [];
      let after: { value: string | number; id: number } | undefined;
      for (let guard = 0; guard < 20; guard++) {
        const page = await api.caller.examples.page({ dataset: 'p', sort, desc, limit: 60, after });
        seen.push(...page.rows.map((r) => r.id));
        if (!page.next) break;
        after = page.next;
      }
      expect(new Set(seen).size).toBe(250);
      expect(seen).toHaveLength(250);
      if (sort === 'id') expect(seen).toEqual([...seen].sort((a, b) => (desc ? b - a : a - b)));
    }
    const filtered = await api.caller.examples.page({
      dataset: 'p',
      filter: { kind: 'sts', language: 'en', search: 'rivers' },
      limit: 1000,
    });
    expect(filtered.rows.length).toBeGreaterThan(0);
    for (const r of filtered.rows) {
      expect(r.kind).toBe('sts');
      expect(r.language).toBe('en');
      expect(r.query).toContain('rivers');
    }
    expect(
      await api.caller.examples.count({
        dataset: 'p',
        filter: { kind: 'sts', language: 'en', search: 'rivers' },
      }),
    ).toBe(filtered.rows.length);
    const f = await api.caller.examples.facets({ name: 'p' });
    expect(f.languages.map((l) => l.value).sort()).toEqual(['en', 'fr']);
    expect(f.generatorModels.find((m) => m.value === 'model-b')?.count).toBe(63);
  });

  it('reviews, edits, bulk-reviews and announces each change', async () => {
    const { wb, api } = setup();
    await api.caller.datasets.create({ name: 'r' });
    const d = wb.store.datasets.get('r');
    const { ids } = wb.store.examples.insertMany(d.id, rows(30));
    const events = await collect(api, 3, async () => {
      await api.caller.examples.review({ id: ids[0], action: 'reject', reason: 'off-task' });
      await api.caller.examples.edit({ id: ids[1], field: 'query', value: 'a better query' });
      await api.caller.examples.bulkReview({ dataset: 'r', filter: { kind: 'bitext' }, action: 'accept' });
    });
    expect(events.map((e) => e.topic)).toEqual(['examples', 'examples', 'examples']);
    expect(events[0]).toMatchObject({ dataset: 'r', ids: [ids[0]] });
    const detail = await api.caller.examples.get({ id: ids[0] });
    expect(detail.example).toMatchObject({ status: 'rejected', rejectReason: 'off-task' });
    expect(detail.history.at(-1)).toMatchObject({
      action: 'reject',
      oldValue: 'unreviewed',
      newValue: 'rejected',
    });
    expect((await api.caller.examples.get({ id: ids[1] })).example.query).toBe('a better query');
    const stats = await api.caller.datasets.stats({ name: 'r' });
    expect(stats.byStatus).toEqual({ accepted: 10, rejected: 1, unreviewed: 19 });
  });

  it('refuses input that breaks the schema, naming the field, and changes nothing', async () => {
    const { wb, api } = setup();
    await api.caller.datasets.create({ name: 's' });
    const d = wb.store.datasets.get('s');
    const { ids } = wb.store.examples.insertMany(d.id, rows(3));
    const bad: [string, () => Promise<unknown>, RegExp][] = [
      ['name', () => api.caller.datasets.create({ name: '../etc' }), /name: /],
      [
        'extra key',
        () => api.caller.datasets.create({ name: 'ok', admin: true } as never),
        /Unrecognized key/,
      ],
      ['action', () => api.caller.examples.review({ id: ids[0], action: 'delete' } as never), /action: /],
      ['limit', () => api.caller.examples.page({ dataset: 's', limit: 10_000 }), /limit: /],
      [
        'filter',
        () =>
          api.caller.examples.bulkReview({
            dataset: 's',
            filter: { kind: 'nope' },
            action: 'accept',
          } as never),
        /filter\.kind/,
      ],
    ];
    for (const [what, call, re] of bad) {
      const e = await call().then(
        () => null,
        (x) => x as TRPCError,
      );
      expect(e, what).toBeInstanceOf(TRPCError);
      expect(e!.code, what).toBe('BAD_REQUEST');
      expect(e!.message, what).toMatch(re);
    }
    expect((await api.caller.datasets.list()).map((x) => x.name)).toEqual(['s']);
    expect((await api.caller.datasets.stats({ name: 's' })).byStatus).toEqual({ unreviewed: 3 });
  });

  it('turns UserErrors into BAD_REQUEST with their one-line message', async () => {
    const { api } = setup();
    const e = (await api.caller.datasets.stats({ name: 'missing' }).catch((x) => x)) as TRPCError;
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toMatch(/unknown dataset "missing"/);
  });

  it('imports as a background job with progress and a result, then exports', async () => {
    const { wb, api } = setup();
    const dir = tmpDir();
    const file = path.join(dir, 'in.jsonl');
    fs.writeFileSync(
      file,
      Array.from({ length: 25 }, (_, i) =>
        JSON.stringify({ kind: 'sts', language: 'en', S1: `a ${i}`, S2: `b ${i}`, S3: `c ${i}` }),
      ).join('\n'),
    );
    const events = await collect(api, 50, async () => {
      const job = await api.caller.datasets.import({
        name: 'imp',
        path: file,
        create: true,
        status: 'accepted',
      });
      expect(job.state).toBe('running');
      await new Promise((r) => setTimeout(r, 500));
    });
    const jobEvents = events.filter((e) => e.topic === 'job');
    const last = jobEvents.at(-1);
    expect(last).toMatchObject({ job: { type: 'import', state: 'done', result: { inserted: 25 } } });
    expect(wb.store.examples.count(wb.store.datasets.get('imp').id)).toBe(25);

    const out = path.join(dir, 'out.jsonl');
    await api.caller.datasets.export({ name: 'imp', out });
    await expect
      .poll(async () => (await api.caller.jobs.list()).find((j) => j.type === 'export')?.state)
      .toBe('done');
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(25);

    const bad = await api.caller.datasets.import({ name: 'imp', path: path.join(dir, 'nope.jsonl') });
    await expect
      .poll(async () => (await api.caller.jobs.list()).find((j) => j.id === bad.id)?.state)
      .toBe('failed');
    expect((await api.caller.jobs.list()).find((j) => j.id === bad.id)?.error).toMatch(/no such file/);
  });

  it('keeps API keys out of every answer', async () => {
    const { api } = setup();
    const s = await api.caller.secrets.set({ name: 'openai', value: 'sk-secret-123' });
    expect(JSON.stringify(s)).not.toContain('sk-secret');
    expect(s.names).toContain('openai');
    expect(JSON.stringify(await api.caller.app.info())).not.toContain('sk-secret');
  });
});
