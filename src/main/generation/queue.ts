import type { Kind } from '../../shared/domain';
import type { Db } from '../store';
import {
  acceptedByCell,
  type ItemRow,
  itemInserter,
  itemsByCell,
  openItems,
  runTasks,
} from '../store/generation-queue';
import { type Attributes, pickModel, sampleAttributes } from './attributes';
import { cellBudget, type RunConfig } from './config';
import type { Plan } from './plan';
import { isAsym } from './prompts';
import { itemSeed, type Rng } from './rng';

/** One request to make: a brainstorm (tasks of a kind) or an example of one kind × language cell. */
export interface Item {
  id: number;
  type: 'brainstorm' | 'example';
  kind: Kind;
  language: string;
  seed: number;
  model: string;
  attrs: Attributes;
  index: number;
  attempts: number;
  taskId: number | null;
}

/** A kind × language cell of the plan and where it stands. */
export interface Cell {
  kind: Kind;
  language: string;
  quota: number;
  accepted: number;
  /** Items queued (ready, or waiting for tasks of their kind). */
  pending: number;
  /** Items sent whose answer is not stored yet. */
  inflight: number;
  nextIndex: number;
  /** Example items that came back (answered or failed): what the attempt budget counts. */
  attempts: number;
  /** Attempts the cell may make; once used up with the quota unmet, the cell is short. */
  budget: number;
}

export const cellKeyOf = (kind: string, language: string) => `${kind}|${language}`;

interface Task {
  id: number;
  text: string;
}

/** Tasks of one kind, drawn without immediate reuse: unused tasks first, then least recently used. */
export class TaskPool {
  private readonly fresh: Task[] = [];
  private readonly used: Task[] = [];
  private head = 0;
  private readonly ids = new Set<number>();
  get size() {
    return this.ids.size;
  }
  add(t: Task, used = false) {
    if (this.ids.has(t.id)) return;
    this.ids.add(t.id);
    (used ? this.used : this.fresh).push(t);
  }
  draw(rng: Rng): Task | null {
    if (this.fresh.length) {
      const i = rng.int(this.fresh.length);
      const t = this.fresh[i];
      this.fresh[i] = this.fresh[this.fresh.length - 1];
      this.fresh.pop();
      this.used.push(t);
      return t;
    }
    if (this.head >= this.used.length) return null;
    const t = this.used[this.head++];
    this.used.push(t);
    if (this.head > 4096) {
      this.used.splice(0, this.head);
      this.head = 0;
    }
    return t;
  }
}

/**
 * The run's queue in memory, mirrored by generation_items: the cells with their quotas and attempt
 * budgets, the task pools, and the items to send (brainstorms first; examples of an asymmetric kind wait
 * until their kind has tasks). `topUp` keeps every open cell's queued work equal to what it still needs.
 */
export class WorkQueue {
  readonly cells = new Map<string, Cell>();
  private readonly pools = new Map<Kind, TaskPool>();
  private readonly taskText = new Map<number, string>();
  private readonly brainstormQ: Item[] = [];
  private ready: Item[] = [];
  private readyHead = 0;
  private readonly waiting = new Map<Kind, Item[]>();
  /** Brainstorms sent and not yet stored, per kind. */
  private readonly brainstormsOut = new Map<Kind, number>();
  /** Items taken from the queue that need no request (their cell is full or out of budget). */
  skipped: number[] = [];
  private readonly items;

  constructor(
    db: Db,
    private readonly runId: string,
    private readonly config: RunConfig,
    private readonly plan: Plan,
    private readonly rng: Rng,
  ) {
    this.items = itemInserter(db, runId);
    const accepted = acceptedByCell(db, runId);
    const byCell = itemsByCell(db, runId);
    for (const c of plan.cells) {
      const k = cellKeyOf(c.kind, c.language);
      this.cells.set(k, {
        kind: c.kind,
        language: c.language,
        quota: c.quota,
        accepted: accepted.get(k) ?? 0,
        pending: 0,
        inflight: 0,
        nextIndex: byCell.get(k)?.nextIndex ?? 0,
        attempts: byCell.get(k)?.attempts ?? 0,
        budget: cellBudget(config, c),
      });
    }
    for (const t of runTasks(db, runId)) this.addTask(t.kind, { id: t.id, text: t.text }, t.used === 1);
  }

  /** Loads the open items; in-flight ones (an open batch) are returned, the rest queued. */
  loadOpen(db: Db): Item[] {
    const inFlight: Item[] = [];
    for (const r of openItems(db, this.runId)) {
      const item = itemOf(r);
      if (r.state === 'in_flight') {
        inFlight.push(item);
        this.markSent(item);
      } else this.enqueue(item);
    }
    return inFlight;
  }

  cell(item: Item): Cell {
    return this.cells.get(cellKeyOf(item.kind, item.language))!;
  }

  taskOf(id: number | null): string | null {
    return id === null ? null : (this.taskText.get(id) ?? null);
  }

  enqueue(item: Item) {
    if (item.type === 'brainstorm') this.brainstormQ.push(item);
    else {
      this.cell(item).pending++;
      if (isAsym(item.kind) && !this.pools.get(item.kind)?.size) {
        const w = this.waiting.get(item.kind) ?? [];
        w.push(item);
        this.waiting.set(item.kind, w);
      } else this.ready.push(item);
    }
  }

  /** Puts an item taken by nextItem back at the front (it was not sent). */
  requeue(item: Item) {
    if (item.type === 'brainstorm') this.brainstormQ.unshift(item);
    else {
      this.cell(item).pending++;
      this.ready.splice(this.readyHead, 0, item);
    }
  }

  addTask(kind: Kind, t: Task, used = false) {
    let pool = this.pools.get(kind);
    if (!pool) {
      pool = new TaskPool();
      this.pools.set(kind, pool);
    }
    pool.add(t, used);
    this.taskText.set(t.id, t.text);
    const w = this.waiting.get(kind);
    if (w?.length) {
      this.ready.push(...w);
      this.waiting.set(kind, []);
    }
  }

  /** A task for an asymmetric example (drawn once per item, kept across its retries). */
  taskFor(item: Item): string {
    if (item.taskId === null || !this.taskText.has(item.taskId)) {
      const t = this.pools.get(item.kind)?.draw(this.rng);
      if (!t) throw new Error(`no task of kind ${item.kind} for item ${item.id}`);
      item.taskId = t.id;
    }
    return this.taskText.get(item.taskId)!;
  }

  /** Counts an item as sent (its cell's quota and budget stay reserved until its answer is stored). */
  markSent(item: Item) {
    if (item.type === 'example') this.cell(item).inflight++;
    else this.brainstormsOut.set(item.kind, (this.brainstormsOut.get(item.kind) ?? 0) + 1);
  }

  /** An item's answer or failure was stored (`attempt`: it counts against its cell's budget). */
  markBack(item: Item, attempt: boolean) {
    if (item.type === 'example') {
      const c = this.cell(item);
      c.inflight--;
      if (attempt) c.attempts++;
    } else this.brainstormsOut.set(item.kind, Math.max(0, (this.brainstormsOut.get(item.kind) ?? 1) - 1));
  }

  /** Whether a cell may still send: quota not met and attempts left (counting those in flight). */
  private open(c: Cell): boolean {
    return c.accepted + c.inflight < c.quota && c.attempts + c.inflight < c.budget;
  }

  /** Next item to send: brainstorms first, then examples of cells that still need answers. */
  nextItem(): Item | null {
    const b = this.brainstormQ.shift();
    if (b) return b;
    while (this.readyHead < this.ready.length) {
      const it = this.ready[this.readyHead++];
      if (this.readyHead > 8192) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      const c = this.cell(it);
      c.pending--;
      if (!this.open(c)) {
        this.skipped.push(it.id);
        continue;
      }
      return it;
    }
    return null;
  }

  /** Items that could be sent now or once their kind has tasks. */
  get queued(): number {
    let w = 0;
    for (const l of this.waiting.values()) w += l.length;
    return this.brainstormQ.length + this.ready.length - this.readyHead + w;
  }

  /** Whether nextItem has something to give (brainstorms, or examples not waiting for tasks). */
  get sendable(): boolean {
    return this.brainstormQ.length > 0 || this.readyHead < this.ready.length;
  }

  /** Examples waiting for tasks, per kind (for the stall message). */
  waitingByKind(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, l] of this.waiting) if (l.length) out[k] = l.length;
    return out;
  }

  /**
   * Keeps every open cell's queued work equal to what it still needs (quota − accepted), and makes sure an
   * asymmetric kind with open work but no tasks has a brainstorm queued or out. Runs inside a transaction.
   */
  topUp() {
    for (const c of this.cells.values()) {
      if (c.attempts + c.inflight >= c.budget) continue;
      const need = c.quota - c.accepted - c.pending - c.inflight;
      for (let i = 0; i < need; i++) this.enqueue(this.newExample(c));
    }
    for (const kind of this.plan.kinds) {
      if (!isAsym(kind) || this.pools.get(kind)?.size) continue;
      const open = [...this.cells.values()].some((c) => c.kind === kind && this.open(c));
      const queued =
        this.brainstormQ.some((b) => b.kind === kind) || (this.brainstormsOut.get(kind) ?? 0) > 0;
      if (open && !queued) this.brainstormQ.push(this.newBrainstorm(kind, this.items.brainstorms(kind)));
    }
  }

  /** Every cell has its quota. */
  complete(): boolean {
    for (const c of this.cells.values()) if (c.accepted < c.quota) return false;
    return true;
  }

  /** Every cell has its quota or has used its attempt budget with nothing in flight: the run is over. */
  settled(): boolean {
    for (const c of this.cells.values())
      if (c.accepted < c.quota && (c.attempts < c.budget || c.inflight > 0)) return false;
    return true;
  }

  private newExample(c: Cell): Item {
    const index = c.nextIndex++;
    const seed = itemSeed(this.config.seed, c.kind, c.language, index);
    const attrs = sampleAttributes(c.kind, c.language, seed, this.config.languages);
    const model = pickModel(this.config.models, seed);
    const id = this.items.insert('example', c.kind, c.language, { index, attrs }, seed, model);
    return {
      id,
      type: 'example',
      kind: c.kind,
      language: c.language,
      seed,
      model,
      attrs,
      index,
      attempts: 0,
      taskId: null,
    };
  }

  private newBrainstorm(kind: Kind, index: number): Item {
    const seed = itemSeed(this.config.seed, `brainstorm:${kind}`, '', index);
    const model = pickModel(this.config.models, seed);
    const id = this.items.insert('brainstorm', kind, null, { index }, seed, model);
    return {
      id,
      type: 'brainstorm',
      kind,
      language: '',
      seed,
      model,
      attrs: {},
      index,
      attempts: 0,
      taskId: null,
    };
  }
}

function itemOf(r: ItemRow): Item {
  const p = JSON.parse(r.payload_json) as { index: number; attrs?: Attributes };
  return {
    id: r.id,
    type: r.type,
    kind: r.kind,
    language: r.language ?? '',
    seed: r.seed,
    model: r.model,
    attrs: p.attrs ?? {},
    index: p.index,
    attempts: r.attempts,
    taskId: r.task_id,
  };
}
