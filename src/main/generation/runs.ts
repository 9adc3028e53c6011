import type { ShortCell } from '../../shared/domain';
import type { Db } from '../store';
import { UserError } from '../errors';
import { cellOutcomes } from '../store/generation-queue';
import { cellBudget, type RunConfig, type RunState, type RunSummary } from './config';
import type { Plan } from './plan';

export interface RunRow {
  id: string;
  dataset_id: number;
  config_json: string;
  plan_json: string;
  state: RunState;
  lease_owner: string | null;
  lease_expires_at: number | null;
  batch_id: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export function getRun(db: Db, id: string): RunRow {
  const r = db.prepare('SELECT * FROM generation_runs WHERE id = ?').get(id) as RunRow | undefined;
  if (!r) {
    const recent = (
      db.prepare('SELECT id FROM generation_runs ORDER BY created_at DESC LIMIT 5').all() as { id: string }[]
    ).map((x) => x.id);
    throw new UserError(
      `unknown generation run "${id}"; ${recent.length ? `recent runs: ${recent.join(', ')}` : 'there are no runs yet'} (see \`embedsmith runs list\`)`,
    );
  }
  return r;
}

export const runConfig = (r: RunRow) => JSON.parse(r.config_json) as RunConfig;
export const runPlan = (r: RunRow) => JSON.parse(r.plan_json) as Plan;

const grouped = (rows: { k: string | null; n: number }[]) => {
  const out: Record<string, number> = {};
  for (const r of rows) if (r.k !== null) out[r.k] = (out[r.k] ?? 0) + r.n;
  return out;
};

/** The run summary, always computed from the database so it is the same after any number of resumes. */
export function runSummary(db: Db, id: string): RunSummary {
  const run = getRun(db, id);
  const one = <T>(sql: string) => db.prepare(sql).get(id) as T;
  const all = (sql: string) => db.prepare(sql).all(id) as { k: string | null; n: number }[];
  const acc = one<{ n: number; s: number }>(
    `SELECT coalesce(sum(surplus = 0), 0) AS n, coalesce(sum(surplus), 0) AS s FROM examples WHERE run_id = ? AND status != 'rejected'`,
  );
  const rejected = grouped([
    ...all(
      `SELECT reject_reason AS k, count(*) AS n FROM examples WHERE run_id = ? AND status = 'rejected' GROUP BY 1`,
    ),
    ...all(
      `SELECT reject_reason AS k, count(*) AS n FROM generation_requests WHERE run_id = ? AND reject_reason IS NOT NULL GROUP BY 1`,
    ),
  ]);
  const req = one<{ n: number; r: number; p: number; c: number; cost: number }>(
    `SELECT count(*) AS n, coalesce(sum(attempts > 1), 0) AS r, coalesce(sum(prompt_tokens), 0) AS p,
       coalesce(sum(completion_tokens), 0) AS c, coalesce(sum(cost_usd), 0) AS cost FROM generation_requests WHERE run_id = ?`,
  );
  return {
    run: id,
    state: run.state,
    accepted: acc.n,
    surplus: acc.s,
    rejected,
    requests: req.n,
    retries: req.r,
    failed_requests: grouped(
      all(
        `SELECT error AS k, count(*) AS n FROM generation_items WHERE run_id = ? AND state = 'failed' GROUP BY 1`,
      ),
    ),
    tokens: { prompt: req.p, completion: req.c },
    cost_usd: Math.round(req.cost * 1e6) / 1e6,
    by_kind: grouped(
      all(
        `SELECT kind AS k, count(*) AS n FROM examples WHERE run_id = ? AND status != 'rejected' AND surplus = 0 GROUP BY 1`,
      ),
    ),
    by_language: grouped(
      all(
        `SELECT coalesce(language, src_lang) AS k, count(*) AS n FROM examples WHERE run_id = ? AND status != 'rejected' AND surplus = 0 GROUP BY 1`,
      ),
    ),
    ...shortfallOf(db, id),
    ...(run.error ? { error: run.error } : {}),
  };
}

/** Cells that used their attempt budget without reaching their quota, with their top reasons. */
export function shortCells(db: Db, id: string): ShortCell[] {
  const run = getRun(db, id);
  const config = runConfig(run);
  const outcomes = cellOutcomes(db, id);
  const out: ShortCell[] = [];
  for (const c of cellProgress(db, id)) {
    const o = outcomes.get(`${c.kind}|${c.language}`) ?? { attempts: 0, reasons: {} };
    const budget = cellBudget(config, c);
    if (c.accepted >= c.quota || o.attempts < budget) continue;
    const reasons = Object.entries(o.reasons)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 3)
      .map(([reason, n]) => ({ reason, n }));
    out.push({ ...c, attempts: o.attempts, budget, reasons });
  }
  return out;
}

const shortfallOf = (db: Db, id: string) => {
  const s = shortCells(db, id);
  return s.length ? { shortfall: s } : {};
};

/** Accepted count against quota per kind × language cell. */
export function cellProgress(
  db: Db,
  id: string,
): { kind: string; language: string; quota: number; accepted: number }[] {
  const plan = runPlan(getRun(db, id));
  const got = new Map(
    (
      db
        .prepare(
          `SELECT kind || '|' || coalesce(language, src_lang) AS k, count(*) AS n FROM examples
           WHERE run_id = ? AND status != 'rejected' AND surplus = 0 GROUP BY 1`,
        )
        .all(id) as { k: string; n: number }[]
    ).map((r) => [r.k, r.n]),
  );
  return plan.cells.map((c) => ({ ...c, accepted: got.get(`${c.kind}|${c.language}`) ?? 0 }));
}

export function listRuns(db: Db, datasetId?: number) {
  const rows = db
    .prepare(
      `SELECT r.id, d.name AS dataset, r.state, r.created_at, r.updated_at, r.config_json,
         (SELECT count(*) FROM examples e WHERE e.run_id = r.id AND e.status != 'rejected' AND e.surplus = 0) AS accepted
       FROM generation_runs r JOIN datasets d ON d.id = r.dataset_id
       ${datasetId === undefined ? '' : 'WHERE r.dataset_id = ?'} ORDER BY r.created_at DESC`,
    )
    .all(...(datasetId === undefined ? [] : [datasetId])) as {
    id: string;
    dataset: string;
    state: RunState;
    created_at: string;
    updated_at: string;
    config_json: string;
    accepted: number;
  }[];
  return rows.map(({ config_json, ...r }) => {
    const c = JSON.parse(config_json) as RunConfig;
    return {
      ...r,
      count: c.count,
      models: c.models.map((m) => `${m.name}=${m.weight}`).join(','),
      batch: c.batchApi,
    };
  });
}
