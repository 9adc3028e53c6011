// The contract's Services over in-memory arrays, for component tests: the renderer talks to the real
// router (zod validation included) through tRPC's local link, with no main process behind it.
import { createTRPCClient, unstable_localLink } from '@trpc/client';
import { EventHub } from '../../src/main/api/events';
import { appRouter } from '../../src/shared/api';
import type { AppInfo, ExampleFilterInput, Services } from '../../src/shared/contract';
import type { Dataset, DatasetStats, Example, Kind } from '../../src/shared/domain';

const notHere = () => {
  throw new Error('not used in this test');
};

export function memoryServices(examples: Example[], datasets: Dataset[]) {
  const hub = new EventHub();
  const calls: { path: string; input: unknown }[] = [];
  const events: { id: number; status: Example['status']; reason: string | null }[] = [];
  const matches = (e: Example, f: ExampleFilterInput = {}) => {
    const inList = (v: unknown, want: unknown) =>
      want === undefined || (Array.isArray(want) ? want.includes(v) : want === v);
    return (
      inList(e.kind, f.kind) &&
      inList(e.language, f.language) &&
      inList(e.status, f.status) &&
      (f.rejectReason === undefined || e.rejectReason === f.rejectReason) &&
      Object.entries(f.attributes ?? {}).every(([k, v]) => e.attributes[k] === v) &&
      (!f.search || `${e.query} ${e.positive} ${e.negative}`.includes(f.search))
    );
  };
  const ofDataset = (name: string) => {
    const d = datasets.find((x) => x.name === name);
    if (!d) throw Object.assign(new Error(`unknown dataset "${name}"`), { name: 'UserError' });
    return examples.filter((e) => e.datasetId === d.id);
  };
  const stats = (name: string, f?: ExampleFilterInput): DatasetStats => {
    const rows = ofDataset(name).filter((e) => matches(e, f));
    const by = (k: (e: Example) => string) => {
      const m: Record<string, number> = {};
      for (const e of rows) m[k(e)] = (m[k(e)] ?? 0) + 1;
      return m;
    };
    const cells = new Map<
      string,
      { kind: Kind; language: string; status: Example['status']; count: number }
    >();
    for (const e of rows) {
      const key = `${e.kind}|${e.language}|${e.status}`;
      const c = cells.get(key) ?? { kind: e.kind, language: e.language ?? '', status: e.status, count: 0 };
      c.count++;
      cells.set(key, c);
    }
    return {
      dataset: name,
      total: rows.length,
      byKind: by((e) => e.kind),
      byLanguage: by((e) => e.language ?? ''),
      byStatus: by((e) => e.status),
      bySplit: by((e) => e.split ?? 'none'),
      cells: [...cells.values()],
    };
  };
  const set = (id: number, patch: Partial<Example>) => {
    const i = examples.findIndex((e) => e.id === id);
    examples[i] = { ...examples[i], ...patch };
    hub.emit({ topic: 'examples', dataset: datasets[0].name, ids: [id] });
    return examples[i];
  };
  const log =
    <A extends unknown[], R>(path: string, fn: (...a: A) => R) =>
    (...a: A): R => {
      calls.push({ path, input: a[0] });
      return fn(...a);
    };
  const svc: Services = {
    info: (): AppInfo => ({
      version: 'test',
      home: '/tmp/x',
      transport: 'http',
    }),
    datasets: {
      list: () => datasets,
      create: notHere,
      delete: notHere,
      stats: (i) => stats(i.name, i.filter),
      import: notHere,
      export: notHere,
      split: notHere,
      setInstruction: notHere,
    },
    examples: {
      page: log('page', (i) => {
        const rows = ofDataset(i.dataset)
          .filter((e) => matches(e, i.filter))
          .sort((a, b) => (i.desc ? b.id - a.id : a.id - b.id))
          .filter((e) => !i.after || (i.desc ? e.id < i.after.id : e.id > i.after.id))
          .slice(0, i.limit ?? 200);
        const last = rows.at(-1);
        return {
          rows,
          next: last && rows.length === (i.limit ?? 200) ? { value: last.id, id: last.id } : null,
        };
      }),
      count: (i) => ofDataset(i.dataset).filter((e) => matches(e, i.filter)).length,
      get: (i) => ({ example: examples.find((e) => e.id === i.id)!, history: [] }),
      facets: (i) => {
        const langs = new Map<string, number>();
        for (const e of ofDataset(i.name))
          langs.set(e.language ?? '', (langs.get(e.language ?? '') ?? 0) + 1);
        return {
          languages: [...langs].map(([value, count]) => ({ value, count })),
          generatorModels: [],
          rejectReasons: [],
          runIds: [],
        };
      },
      review: log('review', (i) =>
        set(i.id, {
          status: i.action === 'accept' ? 'accepted' : i.action === 'reject' ? 'rejected' : 'unreviewed',
          rejectReason: i.action === 'reject' ? (i.reason ?? 'manual') : null,
        }),
      ),
      edit: log('edit', (i) => set(i.id, { [i.field]: i.value })),
      bulkReview: log('bulkReview', (i) => {
        const rows = ofDataset(i.dataset).filter((e) => matches(e, i.filter));
        // Review events as the store writes them: old statuses, for undoBulk.
        const after = events.length;
        for (const e of rows) {
          events.push({ id: e.id, status: e.status, reason: e.rejectReason });
          set(e.id, {
            status: i.action === 'accept' ? 'accepted' : i.action === 'reject' ? 'rejected' : 'unreviewed',
          });
        }
        return { changed: rows.length, undo: { after, upTo: events.length } };
      }),
      undoBulk: log('undoBulk', (i) => {
        const back = events.slice(i.after, i.upTo);
        for (const b of back) set(b.id, { status: b.status, rejectReason: b.reason });
        return { restored: back.length };
      }),
      tokens: notHere,
    },
    jobs: { list: () => [], cancel: notHere },
    generation: {
      plan: notHere,
      start: notHere,
      resume: notHere,
      pause: notHere,
      cancel: notHere,
      list: () => [],
      summary: notHere,
      failures: () => [],
    },
    evaluation: { run: notHere, compare: () => null },
    training: {
      start: notHere,
      preview: notHere,
      resume: notHere,
      discard: notHere,
      cancel: notHere,
      list: () => [],
    },
    artefacts: { export: notHere },
    models: { list: () => [], pull: notHere, remove: notHere, pausePull: notHere },
    paths: {
      list: notHere,
      pick: async () => ({ supported: false, path: null }),
      open: async () => ({ supported: false, opened: false }),
    },
    demo: { load: notHere },
    generationTools: {
      connection: notHere,
      preview: () => ({ accepted: [], rejected: [] }),
      templates: () => [],
      setTemplate: notHere,
    },
    mining: {
      score: notHere,
      mine: notHere,
      page: () => null,
      distribution: () => null,
      negativeAction: notHere,
    },
    secrets: { status: () => ({ storage: 'memory', names: [] }), set: notHere, delete: notHere },
    events: (signal) => hub.stream(signal),
  };
  const client = createTRPCClient<typeof appRouter>({
    links: [unstable_localLink({ router: appRouter, createContext: async () => ({ svc }) })],
  });
  return { svc, client, calls, hub };
}

export function makeExamples(n: number, datasetId = 1): Example[] {
  const kinds: Kind[] = ['short-long', 'sts', 'bitext'];
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    datasetId,
    kind: kinds[i % 3],
    taskId: null,
    instruction: 'Retrieve things.',
    language: i % 2 ? 'en' : 'de',
    srcLang: null,
    tgtLang: null,
    query: `query ${i + 1}`,
    positive: `positive ${i + 1}`,
    negative: `negative ${i + 1}`,
    extras: {},
    attributes: { difficulty: 'high school' },
    seed: i,
    origin: 'synthetic',
    generatorModel: 'test-model',
    templateVersion: null,
    runId: null,
    status: 'unreviewed',
    rejectReason: null,
    split: null,
    contentHash: `h${i}`,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
  }));
}
