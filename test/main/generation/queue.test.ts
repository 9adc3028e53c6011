import { describe, expect, it } from 'vitest';
import { type Item, WorkQueue } from '../../../src/main/generation/queue';
import { Rng } from '../../../src/main/generation/rng';
import { getRun, runConfig, runPlan } from '../../../src/main/generation/runs';
import { storedRun } from '../../helpers/generation-run';

// The queue on its own, over a real run stored in SQLite: quotas, top-up, tasks, skips and attempt budgets.
function setup(o: { kinds: string; languages: string; count: number; maxAttemptsPerCell?: number }) {
  const { store, runId } = storedRun(o);
  const open = () => {
    const run = getRun(store.db, runId);
    const q = new WorkQueue(store.db, runId, runConfig(run), runPlan(run), new Rng(7));
    q.loadOpen(store.db);
    store.db.transaction(() => q.topUp())();
    return q;
  };
  return { store, runId, open };
}

const drain = (q: WorkQueue) => {
  const out: Item[] = [];
  for (let it = q.nextItem(); it; it = q.nextItem()) out.push(it);
  return out;
};

describe('WorkQueue', () => {
  it('queues exactly each cell’s quota, stored as pending items', () => {
    const { store, runId, open } = setup({ kinds: 'sts', languages: 'en,de', count: 5 });
    const q = open();
    const items = drain(q);
    expect(items.map((i) => i.language).sort()).toEqual(['de', 'de', 'en', 'en', 'en']);
    const n = store.db
      .prepare(
        `SELECT count(*) AS n FROM generation_items WHERE run_id = ? AND type = 'example' AND state = 'pending'`,
      )
      .get(runId) as { n: number };
    expect(n.n).toBe(5);
    // Nothing more while they are out; an item back without an answer is replaced by topUp.
    for (const it of items) q.markSent(it);
    q.topUp();
    expect(q.nextItem()).toBeNull();
    q.markBack(items[0], true);
    q.topUp();
    expect(q.nextItem()).toMatchObject({
      kind: 'sts',
      language: items[0].language,
      index: 3 - (items[0].language === 'de' ? 1 : 0),
    });
  });

  it('sends brainstorms first; asymmetric examples wait for tasks of their kind', () => {
    const { open } = setup({ kinds: 'short-short', languages: 'en', count: 3 });
    const q = open();
    const first = q.nextItem()!;
    expect(first.type).toBe('brainstorm');
    expect(q.nextItem()).toBeNull();
    expect(q.waitingByKind()).toEqual({ 'short-short': 3 });
    q.markSent(first);
    q.addTask('short-short', { id: 1, text: 'Given a word, find its synonym.' });
    q.markBack(first, false);
    const ex = drain(q);
    expect(ex).toHaveLength(3);
    expect(q.taskFor(ex[0])).toBe('Given a word, find its synonym.');
    expect(ex[0].taskId).toBe(1);
  });

  it('queues a brainstorm again when its kind has no tasks and none is out', () => {
    const { open } = setup({ kinds: 'short-short', languages: 'en', count: 2 });
    const q = open();
    const b = q.nextItem()!;
    q.markSent(b);
    q.topUp();
    expect(q.nextItem()).toBeNull();
    // The brainstorm came back without tasks (refused): the next topUp asks again.
    q.markBack(b, false);
    q.topUp();
    expect(q.nextItem()).toMatchObject({ type: 'brainstorm', kind: 'short-short', index: 1 });
  });

  it('skips queued items of a cell whose quota is met by answers in flight', () => {
    const { open } = setup({ kinds: 'sts', languages: 'en', count: 2 });
    const q = open();
    const [a, b] = drain(q);
    q.markSent(a);
    q.markSent(b);
    // a and b out; a third item queued (say, one replaced by a resume) is skipped, not sent.
    q.requeue({ ...a, id: 999 });
    expect(q.nextItem()).toBeNull();
    expect(q.skipped).toEqual([999]);
  });

  it('a cell stops after its attempt budget: settled, short, nothing more queued', () => {
    const { open } = setup({ kinds: 'sts', languages: 'en', count: 2, maxAttemptsPerCell: 3 });
    const q = open();
    let sent = 0;
    for (let round = 0; round < 5; round++) {
      // Sent one by one, as the sender does: each counts against the budget from the moment it is sent.
      for (let it = q.nextItem(); it; it = q.nextItem()) {
        q.markSent(it);
        sent++;
        q.markBack(it, true); // answered and rejected
      }
      q.topUp();
    }
    expect(sent).toBe(3);
    expect(q.settled()).toBe(true);
    expect(q.complete()).toBe(false);
    expect([...q.cells.values()][0]).toMatchObject({ attempts: 3, budget: 3, accepted: 0 });
  });

  it('a resume counts attempts from the store and loads tasks its items drew from another run', () => {
    const { store, runId, open } = setup({
      kinds: 'short-short',
      languages: 'en',
      count: 2,
      maxAttemptsPerCell: 4,
    });
    const db = store.db;
    const d = store.datasets.get('d');
    // A task another run of the dataset stored; this run's item drew it.
    const other = Number(
      db
        .prepare(
          `INSERT INTO tasks (dataset_id, kind, text, origin, run_id) VALUES (?, 'short-short', 'Given a city, find its river.', 'brainstorm', 'gen-other')`,
        )
        .run(d.id).lastInsertRowid,
    );
    const q = open();
    const b = q.nextItem()!;
    db.prepare(`UPDATE generation_items SET state = 'done', outcome = 'rejected' WHERE id = ?`).run(b.id);
    const ex = db
      .prepare(`SELECT id FROM generation_items WHERE run_id = ? AND type = 'example' ORDER BY id`)
      .all(runId) as { id: number }[];
    db.prepare(
      `UPDATE generation_items SET state = 'done', outcome = 'rejected', error = 'wrong_language', task_id = ? WHERE id = ?`,
    ).run(other, ex[0].id);
    const again = open();
    expect([...again.cells.values()][0]).toMatchObject({ attempts: 1, budget: 4 });
    // The kind has a task, so no brainstorm is needed and the examples are ready at once.
    const next = drain(again);
    expect(next.map((i) => i.type)).toEqual(['example', 'example']);
    expect(again.taskFor(next[0])).toBe('Given a city, find its river.');
  });
});
