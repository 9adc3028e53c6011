import { openDatabase, type Db } from './db';
import { DatasetStore } from './datasets';
import { ExampleStore } from './examples';

/** The SQLite dataset store: one database file per workspace, a repository object per table group. */
export class Store {
  readonly datasets: DatasetStore;
  readonly examples: ExampleStore;

  constructor(readonly db: Db) {
    this.datasets = new DatasetStore(db);
    this.examples = new ExampleStore(db);
  }

  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  /** Runs fn in one transaction: all of its writes or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export type { Db } from './db';
export type { ExampleFilter, PageRequest, InsertResult } from './examples';
