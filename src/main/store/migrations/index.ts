import { sql as core } from './001_core';
import { sql as ftsDeferred } from './002_fts_deferred';
import { sql as counts } from './003_counts';
import { sql as generation } from './010_generation';
import { sql as mining } from './040_mining';

/**
 * Migrations keyed on PRAGMA user_version, applied in ascending order, each in its own transaction.
 * Areas own number ranges so parallel work never collides: core 1–9, generation 10–19, training 20–29,
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  { version: 1, name: 'core', sql: core },
  { version: 2, name: 'fts-deferred', sql: ftsDeferred },
  { version: 3, name: 'counts', sql: counts },
  { version: 10, name: 'generation', sql: generation },
  { version: 40, name: 'mining', sql: mining },
];
