import type { Dataset } from '../../shared/domain';
import { UserError } from '../errors';
import type { Db } from './db';

interface DatasetRow {
  id: number;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
  example_count: number;
  settings_json: string;
}

/** The dataset's default instruction, kept in datasets.settings_json.instruction beside the split settings. */
const instructionIn = (settingsJson: string): string | null => {
  const v = JSON.parse(settingsJson || '{}').instruction;
  return typeof v === 'string' && v.trim() ? v : null;
};

const toDataset = (r: DatasetRow): Dataset => ({
  id: r.id,
  name: r.name,
  description: r.description,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  exampleCount: r.example_count,
  instruction: instructionIn(r.settings_json),
});

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Datasets by name. Unknown names are UserErrors that list what exists. */
export class DatasetStore {
  constructor(private readonly db: Db) {}

  list(): Dataset[] {
    const rows = this.db
      .prepare(
        `SELECT d.*, (SELECT count(*) FROM examples e WHERE e.dataset_id = d.id) AS example_count
         FROM datasets d WHERE substr(d.name, 1, 8) <> '~import-' ORDER BY d.name`,
      )
      .all() as DatasetRow[];
    return rows.map(toDataset);
  }

  create(name: string, description = '', instruction: string | null = null): Dataset {
    if (!NAME_RE.test(name))
      throw new UserError(
        `dataset name "${name}" is not allowed; use letters, digits, '.', '_' or '-' (at most 128, starting with a letter or digit)`,
        2,
      );
    if (this.find(name))
      throw new UserError(`dataset "${name}" already exists; pick another name or delete it first`);
    this.db.prepare('INSERT INTO datasets (name, description) VALUES (?, ?)').run(name, description);
    if (instruction !== null) this.setInstruction(name, instruction);
    return this.get(name);
  }

  /**
   * Sets (or with null / blank text clears) the instruction that training gives the dataset's rows without
   * one; read when rows are loaded, so it applies to rows imported before and after.
   */
  setInstruction(name: string, instruction: string | null): Dataset {
    const d = this.get(name);
    const text = instruction?.trim() ? instruction.trim() : null;
    if (text && text.length > 2000)
      throw new UserError(
        `instruction of dataset "${name}" is ${text.length} characters; keep it under 2000`,
        2,
      );
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT settings_json FROM datasets WHERE id = ?').get(d.id) as {
        settings_json: string;
      };
      const all = JSON.parse(row.settings_json || '{}');
      if (text) all.instruction = text;
      else delete all.instruction;
      this.db.prepare('UPDATE datasets SET settings_json = ? WHERE id = ?').run(JSON.stringify(all), d.id);
      this.touch(d.id);
    })();
    return this.get(name);
  }

  find(name: string): Dataset | undefined {
    const r = this.db
      .prepare(
        `SELECT d.*, (SELECT count(*) FROM examples e WHERE e.dataset_id = d.id) AS example_count
         FROM datasets d WHERE d.name = ?`,
      )
      .get(name) as DatasetRow | undefined;
    return r ? toDataset(r) : undefined;
  }

  get(name: string): Dataset {
    const d = this.find(name);
    if (!d) {
      const names = this.list().map((x) => x.name);
      throw new UserError(
        `unknown dataset "${name}"; ${names.length ? `existing: ${names.slice(0, 20).join(', ')}` : 'there are no datasets yet'} (create it with \`embedsmith datasets create ${name}\`)`,
      );
    }
    return d;
  }

  delete(name: string): void {
    const d = this.get(name);
    this.db.prepare('DELETE FROM datasets WHERE id = ?').run(d.id);
  }

  touch(id: number): void {
    this.db
      .prepare(`UPDATE datasets SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`)
      .run(id);
  }
}
