import type { Database } from 'better-sqlite3';
import { sql as core } from './001_core';
import { sql as ftsDeferred } from './002_fts_deferred';
import { sql as counts } from './003_counts';
import { sql as languages } from './004_languages';
import { run as bitextLanguagesRun, sql as bitextLanguages } from './005_bitext_languages';
import { sql as generation } from './010_generation';
import { sql as trainingReconcile } from './020_training_reconcile';
import { sql as jobsLifecycle } from './021_jobs_lifecycle';
import { sql as mining } from './040_mining';
import { sql as app } from './050_app';

/**
 * Migrations keyed on PRAGMA user_version, applied in ascending order, each in its own transaction.
 * Areas own number ranges so parallel work never collides: core 1–9, generation 10–19, training 20–29,
 * evaluation 30–39, mining 40–49, app 50–59. Append a new file; never edit a migration that has landed.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** A step SQL cannot express (e.g. recomputing content hashes), run after `sql` in the same transaction. */
  run?: (db: Database) => void;
}

export const MIGRATIONS: Migration[] = [
  { version: 1, name: 'core', sql: core },
  { version: 2, name: 'fts-deferred', sql: ftsDeferred },
  { version: 3, name: 'counts', sql: counts },
  { version: 4, name: 'languages', sql: languages },
  { version: 5, name: 'bitext-languages', sql: bitextLanguages, run: bitextLanguagesRun },
  { version: 10, name: 'generation', sql: generation },
  { version: 20, name: 'training-reconcile', sql: trainingReconcile },
  { version: 21, name: 'jobs-lifecycle', sql: jobsLifecycle },
  { version: 40, name: 'mining', sql: mining },
  { version: 50, name: 'app', sql: app },
];
