// The Generate screen's extras: does the provider answer (and with which models), what the last accepted
// and rejected answers look like, and the prompt templates a dataset's runs use (with its overrides).
import type { Services, TemplateInfo } from '../../shared/contract';
import { UserError } from '../errors';
import type { GenerationService } from '../generation';
import { REQUIRED_PLACEHOLDERS, resolveTemplates } from '../generation';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import { type FailedRequestRow, failedRequestColumns, toFailedRequest } from './failed-requests';
import { type SecretStore, secretValues } from './secrets';

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export function createGenerationTools(
  wb: Workbench,
  hub: EventHub,
  secrets: SecretStore,
  opts: { fetch?: typeof fetch } = {},
): Services['generationTools'] {
  const gen = () => {
    const g = (wb as unknown as { generation?: GenerationService }).generation;
    if (!g) throw new UserError('this workbench has no generation service yet; update Embedsmith');
    return g;
  };
  const db = wb.store.db;
  const templates = (dataset: string): TemplateInfo[] => {
    const overrides = gen().templateOverrides(dataset);
    return Object.values(resolveTemplates(overrides)).map((t) => ({
      id: t.id,
      text: t.text,
      version: t.version,
      overridden: t.id in overrides,
      placeholders: [...(REQUIRED_PLACEHOLDERS[t.id] ?? [])],
    }));
  };

  return {
    async connection(i) {
      const base = (i.baseUrl ?? DEFAULT_BASE_URL).replace(/\/$/, '');
      const key = i.apiKeyName
        ? secrets.get(i.apiKeyName)
        : (secrets.get('openai') ?? process.env.OPENAI_API_KEY);
      if (i.apiKeyName && !key)
        return {
          ok: false,
          models: [],
          error: `no API key named "${i.apiKeyName}" is stored; add it under Provider settings`,
        };
      try {
        const r = await (opts.fetch ?? fetch)(`${base}/models`, {
          headers: key ? { authorization: `Bearer ${key}` } : {},
          signal: AbortSignal.timeout(15_000),
        });
        if (r.status === 401 || r.status === 403)
          return {
            ok: false,
            models: [],
            error: `${base} refused the API key (HTTP ${r.status}); check the key`,
          };
        if (!r.ok)
          return {
            ok: false,
            models: [],
            error: `${base}/models answered HTTP ${r.status}; check the base URL`,
          };
        const body = (await r.json()) as { data?: { id?: unknown }[] };
        const models = (body.data ?? []).map((m) => m.id).filter((x): x is string => typeof x === 'string');
        return { ok: true, models: models.sort(), error: null };
      } catch (e) {
        const why =
          (e as Error).name === 'TimeoutError'
            ? 'no answer in 15 s'
            : ((e as { cause?: Error }).cause?.message ?? (e as Error).message);
        return { ok: false, models: [], error: `cannot reach ${base} (${why}); check the base URL` };
      }
    },
    preview(i) {
      const d = wb.store.datasets.get(i.dataset);
      const ids = db
        .prepare(
          `SELECT id FROM examples WHERE dataset_id = ? AND run_id IS NOT NULL ${i.runId ? 'AND run_id = ?' : ''}
           ORDER BY id DESC LIMIT 3`,
        )
        .pluck()
        .all(...(i.runId ? [d.id, i.runId] : [d.id])) as number[];
      const rejected = db
        .prepare(
          `SELECT ${failedRequestColumns('q')}
           FROM generation_requests q JOIN generation_runs r ON r.id = q.run_id
           WHERE r.dataset_id = ? ${i.runId ? 'AND q.run_id = ?' : ''} AND q.reject_reason IS NOT NULL
           ORDER BY q.id DESC LIMIT 3`,
        )
        .all(...(i.runId ? [d.id, i.runId] : [d.id])) as FailedRequestRow[];
      return {
        accepted: ids.map((id) => wb.store.examples.get(id)),
        rejected: rejected.map((r) => toFailedRequest(r, secretValues(secrets))),
      };
    },
    templates(i) {
      return templates(i.name);
    },
    setTemplate(i) {
      gen().setTemplateOverride(i.dataset, i.id, i.text);
      hub.emit({ topic: 'datasets' });
      return templates(i.dataset);
    },
  };
}
