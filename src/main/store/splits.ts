import { createHash } from 'node:crypto';
import type { Split } from '../../shared/domain';
import { usageError } from '../errors';
import type { Db } from './db';

/** Train/dev/test ratios and the seed of the hash rule; kept in datasets.settings_json.split. */
export interface SplitSettings {
  ratios: [number, number, number];
  seed: number;
}

/**
 * The one check of split ratios (CLI and API alike): three finite non-negative numbers summing to 1 (±1e-6),
 * else a usage error naming them as `shown`.
 */
export function checkRatios(nums: readonly number[], shown: string): [number, number, number] {
  if (nums.length !== 3 || nums.some((n) => !Number.isFinite(n) || n < 0))
    throw usageError(
      `${shown} is not three non-negative numbers; write train,dev,test such as 0.9,0.05,0.05`,
    );
  const sum = nums[0] + nums[1] + nums[2];
  if (Math.abs(sum - 1) > 1e-6)
    throw usageError(`${shown} sum to ${+sum.toFixed(6)}, not 1; adjust them, e.g. 0.9,0.05,0.05`);
  return [nums[0], nums[1], nums[2]];
}

/** Parses `0.9,0.05,0.05` (the CLI's --ratios) and checks it with checkRatios. */
export function parseRatios(text: string): [number, number, number] {
  const parts = text.split(',').map((s) => s.trim());
  const shown = `--ratios "${text}"`;
  if (parts.some((p) => p === '')) return checkRatios([], shown);
  return checkRatios(parts.map(Number), shown);
}

/**
 * The split of one row: a uniform number in [0,1) from sha256(seed:content_hash), cut at the ratios.
 * Depends only on the row's content and the settings, so adding rows never moves existing ones.
 */
export function splitFor(hash: string, s: SplitSettings): Split {
  const h = createHash('sha256').update(`${s.seed}:${hash}`).digest();
  const u = h.readUInt32BE(0) / 0x1_0000_0000;
  if (u < s.ratios[0]) return 'train';
  if (u < s.ratios[0] + s.ratios[1]) return 'dev';
  return 'test';
}

export function splitAssigner(s: SplitSettings | undefined): ((hash: string) => Split) | undefined {
  return s ? (hash) => splitFor(hash, s) : undefined;
}

/**
 * Records the settings on the dataset and assigns a split to every row without one (or to every row when
 * `reassign`), in one transaction. Returns the number of rows given a split and the counts per split.
 */
export function assignSplits(
  db: Db,
  datasetId: number,
  settings: SplitSettings,
  opts: { reassign?: boolean } = {},
): { assigned: number; bySplit: Record<string, number> } {
  checkRatios(settings.ratios, `ratios [${settings.ratios.join(',')}]`);
  return db.transaction(() => {
    const row = db.prepare('SELECT settings_json FROM datasets WHERE id = ?').get(datasetId) as {
      settings_json: string;
    };
    const all = JSON.parse(row.settings_json || '{}');
    all.split = settings;
    db.prepare(
      `UPDATE datasets SET settings_json = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
    ).run(JSON.stringify(all), datasetId);
    const sel = db.prepare<unknown[], { id: number; content_hash: string }>(
      `SELECT id, content_hash FROM examples WHERE dataset_id = ? ${opts.reassign ? '' : 'AND split IS NULL'}`,
    );
    const upd = db.prepare('UPDATE examples SET split = ? WHERE id = ?');
    const unassigned = sel.all(datasetId);
    for (const r of unassigned) upd.run(splitFor(r.content_hash, settings), r.id);
    const counts = db
      .prepare<unknown[], { split: string; n: number }>(
        `SELECT coalesce(split, 'none') AS split, count(*) AS n FROM examples WHERE dataset_id = ? GROUP BY 1`,
      )
      .all(datasetId);
    return { assigned: unassigned.length, bySplit: Object.fromEntries(counts.map((c) => [c.split, c.n])) };
  })();
}

/** The dataset's split settings, if `datasets split` ran on it. */
export function splitSettings(db: Db, datasetId: number): SplitSettings | undefined {
  const row = db.prepare('SELECT settings_json FROM datasets WHERE id = ?').get(datasetId) as
    | { settings_json: string }
    | undefined;
  if (!row) return undefined;
  const s = JSON.parse(row.settings_json || '{}').split;
  return s && Array.isArray(s.ratios) ? (s as SplitSettings) : undefined;
}
