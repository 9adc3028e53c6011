// The router's `Services`, implemented over the workbench. Thin: every rule lives in the store and the
// area services; this file maps contract shapes to them and announces changes on the event hub.
import type { AppInfo, Facets, PageResult, ReviewEvent, Services } from '../../shared/contract';
import type { Example } from '../../shared/domain';
import type { SortColumn } from '../store/examples';
import type { Workbench } from '../workbench';
import fs from 'node:fs';
import path from 'node:path';
import { checkExportTarget, exportDataset } from '../export';
import { importDataset } from '../import';
import { UserError } from '../errors';
import { Store } from '../store';
import { BUSY_MESSAGE, isSqliteBusy } from '../store/db';
import { assignSplits } from '../store/splits';
import { EventHub } from './events';
import { createEvaluationApi } from './evaluation';
import { createGenerationApi } from './generation';
import { createJobsApi, relayJobs } from './jobs';
import { attributeFacets, lastReviewEvent, tokenCounts, undoBulkReview } from './curation';
import { createMiningApi } from './mining';
import { createTrainingApi } from './training';
import { createAppTools, type NativeDialogs } from './app-tools';
import { createGenerationTools } from './generation-tools';
import { createSecretStore, type SecretStore } from './secrets';

const VERSION = '0.1.0';

const sortValue = (e: Example, sort: SortColumn): string | number => {
  switch (sort) {
    case 'id':
      return e.id;
    case 'kind':
      return e.kind;
    case 'language':
      return e.language ?? '';
    case 'status':
      return e.status;
    case 'created_at':
      return e.createdAt;
    case 'updated_at':
      return e.updatedAt;
  }
};

export interface ApiOptions {
  transport: 'ipc' | 'http';
  hub?: EventHub;
  /** API keys; default: in memory for this process (plus the environment). */
  secrets?: SecretStore;
  /** Electron's native open/save dialogs (through the main process); absent in browser mode. */
  dialogs?: NativeDialogs;
  /** Root of the server-side file browser (default: the user's home). */
  browseRoot?: string;
}

export function createServices(
  wb: Workbench,
  opts: ApiOptions,
): Services & { hub: EventHub; secretStore: SecretStore } {
  const hub = opts.hub ?? new EventHub();
  const jobs = wb.jobs;
  relayJobs(jobs, hub);
  const secrets = opts.secrets ?? createSecretStore(null);
  const store = wb.store;
  const ds = (name: string) => store.datasets.get(name);
  const datasetOfExample = (id: number) => {
    const e = store.examples.get(id);
    return {
      e,
      name: (store.db.prepare('SELECT name FROM datasets WHERE id = ?').get(e.datasetId) as { name: string })
        .name,
    };
  };

  const facet = (datasetId: number, col: string) =>
    store.db
      .prepare(
        `SELECT ${col} AS value, count(*) AS count FROM examples WHERE dataset_id = ? AND ${col} IS NOT NULL
         GROUP BY 1 ORDER BY 2 DESC LIMIT 200`,
      )
      .all(datasetId) as { value: string; count: number }[];

  return {
    hub,
    secretStore: secrets,
    info(): AppInfo {
      return {
        version: VERSION,
        home: wb.paths.home,
        transport: opts.transport,
      };
    },
    datasets: {
      list: () => store.datasets.list(),
      create: (i) => {
        const d = store.datasets.create(i.name, i.description ?? '');
        hub.emit({ topic: 'datasets' });
        return d;
      },
      delete: (i) => {
        store.datasets.delete(i.name);
        hub.emit({ topic: 'datasets' });
        return { deleted: i.name };
      },
      stats: (i) => {
        const d = ds(i.name);
        return store.examples.stats(d.id, d.name, i.filter);
      },
      import(i) {
        if (!i.create) ds(i.name);
        // Cancellable: the importer stops between records and drops its staged rows (nothing is published).
        return jobs.start(
          'import',
          `import ${path.basename(i.path)} into ${i.name}`,
          async (onProgress, job) => {
            // The importer holds one transaction across its awaits, so it gets its own connection and the
            // app's connection keeps answering meanwhile.
            const own = Store.open(wb.paths.db);
            try {
              const r = await importDataset(own, i.name, i.path, {
                layout: i.layout,
                kind: i.kind,
                language: i.language,
                status: i.status,
                skipInvalid: i.skipInvalid,
                create: i.create,
                instruction: i.instruction,
                rejectedDir: path.join(wb.paths.home, 'imports'),
                onProgress,
                signal: job.signal,
                commit: job.commit,
              });
              return r;
            } catch (e) {
              // The job shows one retryable line, not "database is locked".
              throw isSqliteBusy(e) ? new UserError(BUSY_MESSAGE) : e;
            } finally {
              own.close();
              hub.emit({ topic: 'datasets' });
              hub.emit({ topic: 'examples', dataset: i.name });
            }
          },
          {},
          { cancellable: true },
        );
      },
      export(i) {
        ds(i.name);
        const format = i.format ?? 'jsonl';
        const out =
          i.out ??
          path.join(
            wb.paths.exports,
            `${i.name}-${i.layout ?? 'paper'}-${new Date().toISOString().replace(/[:.]/g, '-')}.${format}`,
          );
        // The default folder is the workspace's own: a fresh workspace has none yet.
        if (!i.out) fs.mkdirSync(wb.paths.exports, { recursive: true });
        // Refused here, not in the job: the caller gets the one-line error (the job checks again).
        checkExportTarget(path.resolve(out), i.overwrite);
        return jobs.start('export', `export ${i.name} → ${path.basename(out)}`, (onProgress) =>
          exportDataset(store, i.name, { ...i, out, format, onProgress }),
        );
      },
      split(i) {
        const d = ds(i.name);
        const r = assignSplits(
          store.db,
          d.id,
          { ratios: i.ratios, seed: i.seed ?? 0 },
          { reassign: i.reassign },
        );
        hub.emit({ topic: 'examples', dataset: d.name });
        return r;
      },
      setInstruction(i) {
        const d = store.datasets.setInstruction(i.name, i.instruction);
        hub.emit({ topic: 'datasets' });
        return d;
      },
    },
    jobs: createJobsApi(jobs),
    generation: createGenerationApi(wb, hub, secrets),
    evaluation: createEvaluationApi(wb, hub, jobs),
    training: createTrainingApi(wb, hub),
    mining: createMiningApi(wb, hub, jobs),
    ...createAppTools(wb, hub, jobs, { dialogs: opts.dialogs, browseRoot: opts.browseRoot }),
    generationTools: createGenerationTools(wb, hub, secrets),
    secrets: {
      status: () => ({ storage: secrets.storage, names: secrets.names() }),
      set: (i) => {
        secrets.set(i.name, i.value);
        return { storage: secrets.storage, names: secrets.names() };
      },
      delete: (i) => {
        secrets.delete(i.name);
        return { storage: secrets.storage, names: secrets.names() };
      },
    },
    examples: {
      page(i): PageResult {
        const d = ds(i.dataset);
        const sort = i.sort ?? 'id';
        const limit = i.limit ?? 200;
        const rows = store.examples.page(d.id, {
          filter: i.filter,
          sort,
          desc: i.desc,
          limit,
          after: i.after,
        });
        const last = rows[rows.length - 1];
        return {
          rows,
          next: rows.length === limit && last ? { value: sortValue(last, sort), id: last.id } : null,
        };
      },
      count: (i) => store.examples.count(ds(i.dataset).id, i.filter),
      get(i) {
        const example = store.examples.get(i.id);
        const history = (
          store.examples.history(i.id) as {
            id: number;
            action: string;
            field: string | null;
            old_value: string | null;
            new_value: string | null;
            reason: string | null;
            at: string;
          }[]
        ).map(
          (h): ReviewEvent => ({
            id: h.id,
            action: h.action,
            field: h.field,
            oldValue: h.old_value,
            newValue: h.new_value,
            reason: h.reason,
            at: h.at,
          }),
        );
        return { example, history };
      },
      facets(i): Facets {
        // Cheap at 500k rows: languages from the maintained counts, reasons from the rejected rows only,
        // runs from their own table; only the generator models scan the dataset.
        const d = ds(i.name);
        const byLanguage = store.examples.stats(d.id, d.name).byLanguage;
        const reasons = store.db
          .prepare(
            `SELECT reject_reason AS value, count(*) AS count FROM examples
             WHERE dataset_id = ? AND status = 'rejected' AND reject_reason IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 200`,
          )
          .all(d.id) as { value: string; count: number }[];
        const runs = store.db
          .prepare(
            'SELECT id AS value, 0 AS count FROM generation_runs WHERE dataset_id = ? ORDER BY created_at DESC LIMIT 200',
          )
          .all(d.id) as { value: string; count: number }[];
        return {
          languages: Object.entries(byLanguage)
            .filter(([l]) => l !== '')
            .sort((a, b) => b[1] - a[1])
            .map(([value, count]) => ({ value, count })),
          generatorModels: facet(d.id, 'generator_model'),
          rejectReasons: reasons,
          runIds: runs,
          attributes: attributeFacets(store.db, d.id),
        };
      },
      review(i) {
        const { name } = datasetOfExample(i.id);
        const e = store.examples.review(i.id, i.action, i.reason);
        hub.emit({ topic: 'examples', dataset: name, ids: [i.id] });
        return e;
      },
      edit(i) {
        const { name } = datasetOfExample(i.id);
        const e = store.examples.edit(i.id, i.field, i.value);
        hub.emit({ topic: 'examples', dataset: name, ids: [i.id] });
        return e;
      },
      bulkReview(i) {
        const d = ds(i.dataset);
        const after = lastReviewEvent(store.db);
        const changed = store.examples.bulkReview(d.id, i.filter, i.action, i.reason);
        hub.emit({ topic: 'examples', dataset: d.name });
        return { changed, undo: { after, upTo: lastReviewEvent(store.db) } };
      },
      undoBulk(i) {
        const d = ds(i.dataset);
        const restored = undoBulkReview(store.db, d.id, i.after, i.upTo);
        hub.emit({ topic: 'examples', dataset: d.name });
        return { restored };
      },
      tokens(i) {
        const rows = i.ids.map((id) => store.examples.get(id));
        const texts = rows.flatMap((e) => [e.query, e.positive, e.negative ?? '']);
        const { counts, maxLength } = tokenCounts(i.model, texts);
        return {
          maxLength,
          rows: rows.map((e, k) => ({
            id: e.id,
            query: counts[3 * k],
            positive: counts[3 * k + 1],
            negative: e.negative === null ? null : counts[3 * k + 2],
          })),
        };
      },
    },
    events: (signal) => hub.stream(signal),
  };
}
