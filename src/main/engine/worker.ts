// Main-thread side of the session worker: a small promise API over worker_threads messages.
import type { Worker } from 'node:worker_threads';
import { UserError } from '../errors';
import { siblingModule, startWorker } from '../ts-worker';
import type { IOInfo, OnnxModel } from './onnx';
import type { SafetensorsEntry } from './safetensors';
import type { EngineSession, Feeds, Fetches, Provider, SessionOptions } from './runtime';
import type { WorkerReply, WorkerRequest } from './session-worker';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Buffers of the feeds, transferred rather than copied (the caller's arrays become detached). */
function transferList(feeds: Feeds): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const t of Object.values(feeds)) {
    const b = t.data.buffer as ArrayBuffer;
    if (
      b instanceof ArrayBuffer &&
      t.data.byteOffset === 0 &&
      t.data.byteLength === b.byteLength &&
      !out.includes(b)
    )
      out.push(b);
  }
  return out;
}

/** One worker thread that can hold several sessions; requests are served in order. */
export class EngineWorker {
  private worker: Worker;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;

  constructor() {
    // A thread of its own: session.run() blocks its thread.
    this.worker = startWorker(siblingModule(import.meta.url, 'session-worker'));
    this.worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m.value);
      else {
        const e =
          m.name === 'UserError' || m.name === 'GraphError' ? new UserError(m.error) : new Error(m.error);
        p.reject(e);
      }
    });
    const failAll = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.unref();
    this.worker.on('error', failAll);
    this.worker.on('exit', (code) => failAll(new Error(`session worker exited (code ${code})`)));
  }

  request<T>(msg: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      // Referenced only while a request is in flight: an idle worker never keeps the process alive.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.dead = new Error('session worker terminated');
    await this.worker.terminate();
  }
}

/** A session living in a worker thread: the main thread only posts feeds and receives outputs. */
export class WorkerSession implements EngineSession {
  private constructor(
    private worker: EngineWorker,
    private ownsWorker: boolean,
    private sid: number,
    readonly provider: Provider,
    readonly skipped: { provider: Provider; reason: string }[],
    readonly inputs: IOInfo[],
    readonly outputs: IOInfo[],
  ) {}

  /** Create a session in `worker` (shared), or in a new worker that this session owns and ends on release. */
  static async create(
    model: OnnxModel,
    opts: SessionOptions = {},
    worker?: EngineWorker,
  ): Promise<WorkerSession> {
    const w = worker ?? new EngineWorker();
    try {
      const r = await w.request<{
        sid: number;
        provider: Provider;
        skipped: { provider: Provider; reason: string }[];
      }>({
        kind: 'create',
        model,
        opts,
      });
      return new WorkerSession(w, !worker, r.sid, r.provider, r.skipped, model.inputs, model.outputs);
    } catch (e) {
      if (!worker) await w.terminate();
      throw e;
    }
  }

  /** Feeds' buffers are transferred to the worker (detached here); outputs come back transferred. */
  run(feeds: Feeds, fetch?: string[]): Promise<Fetches> {
    return this.worker.request<Fetches>({ kind: 'run', sid: this.sid, feeds, fetch }, transferList(feeds));
  }

  async release(): Promise<void> {
    await this.worker.request({ kind: 'release', sid: this.sid });
    if (this.ownsWorker) await this.worker.terminate();
  }
}

/**
 * Reads float tensors of one safetensors file as float32 (engine readFloat32) in a worker thread of its own,
 * ended when done: the main thread stays free, e.g. for creating an in-thread ORT session meanwhile (its
 * creation blocks the calling thread). Undefined for a tensor that is not F32/F16/BF16.
 */
export async function readFloat32InWorker(
  file: string,
  entries: SafetensorsEntry[],
): Promise<(Float32Array | undefined)[]> {
  const w = new EngineWorker();
  try {
    return await w.request<(Float32Array | undefined)[]>({ kind: 'readFloat32', file, entries });
  } finally {
    await w.terminate();
  }
}
