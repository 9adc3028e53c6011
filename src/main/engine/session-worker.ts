// Worker thread that owns ORT sessions: session.run() blocks its thread, so it must never be the main one.
// Protocol (see worker.ts): create → {sid, provider, skipped}; run → outputs (buffers transferred); release.
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import {
  checkFeeds,
  createOrtSession,
  type Feeds,
  fromOrt,
  type SessionOptions,
  toOrtFeeds,
} from './runtime';
import type { OnnxModel } from './onnx';
import { readFloat32, type SafetensorsEntry } from './safetensors';

export type WorkerRequest =
  | { id: number; kind: 'create'; model: OnnxModel; opts: SessionOptions }
  | { id: number; kind: 'run'; sid: number; feeds: Feeds; fetch?: string[] }
  | { id: number; kind: 'release'; sid: number }
  | { id: number; kind: 'readFloat32'; file: string; entries: SafetensorsEntry[] };

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; name: string };

const sessions = new Map<number, { s: ort.InferenceSession; model: OnnxModel }>();
let nextSid = 1;

async function handle(msg: WorkerRequest): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  switch (msg.kind) {
    case 'create': {
      const { session, provider, skipped } = await createOrtSession(msg.model, msg.opts);
      const sid = nextSid++;
      // Keep only the IO description; the model bytes are no longer needed once ORT parsed them.
      sessions.set(sid, { s: session, model: { ...msg.model, bytes: new Uint8Array(0) } });
      return { value: { sid, provider, skipped }, transfer: [] };
    }
    case 'run': {
      const e = sessions.get(msg.sid);
      if (!e) throw new Error(`session ${msg.sid} was released`);
      checkFeeds(e.model, msg.feeds);
      const res = await e.s.run(toOrtFeeds(msg.feeds), msg.fetch ?? e.model.outputs.map((o) => o.name));
      const out: Record<string, unknown> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [k, v] of Object.entries(res)) {
        const h = fromOrt(v);
        out[k] = h;
        const buf = h.data.buffer as ArrayBuffer;
        if (!transfer.includes(buf) && h.data.byteOffset === 0 && h.data.byteLength === buf.byteLength)
          transfer.push(buf);
      }
      return { value: out, transfer };
    }
    case 'readFloat32': {
      // Off the main thread, so that weights convert while the main thread's in-thread session is created.
      const fd = fs.openSync(msg.file, 'r');
      try {
        const value = msg.entries.map((e) => readFloat32(fd, msg.file, e));
        return { value, transfer: value.flatMap((v) => (v ? [v.buffer as ArrayBuffer] : [])) };
      } finally {
        fs.closeSync(fd);
      }
    }
    case 'release': {
      const e = sessions.get(msg.sid);
      sessions.delete(msg.sid);
      if (e) await e.s.release();
      return { value: null, transfer: [] };
    }
  }
}

// Requests run one at a time, in order (ORT sessions are not re-entrant from one JS thread anyway).
let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (msg: WorkerRequest) => {
  chain = chain.then(async () => {
    try {
      const { value, transfer } = await handle(msg);
      parentPort!.postMessage({ id: msg.id, ok: true, value } satisfies WorkerReply, transfer);
    } catch (e) {
      const err = e as Error;
      parentPort!.postMessage({
        id: msg.id,
        ok: false,
        error: err.message,
        name: err.name,
      } satisfies WorkerReply);
    }
  });
});
