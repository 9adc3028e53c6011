// Session runtime: the one place that talks to onnxruntime-node. Sessions normally live in a worker thread
// (session-worker.ts, behind WorkerSession) because session.run() blocks its thread; LocalSession runs in
// the calling thread for tests and tiny graphs.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors';
import type { DType, TypedArray } from './graph';
import type { IOInfo, OnnxModel } from './onnx';

export type Provider = 'cuda' | 'webgpu' | 'cpu';

/** A tensor on the host: what is fed and what comes back. */
export interface HostTensor {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

export type Feeds = Record<string, HostTensor>;
export type Fetches = Record<string, HostTensor>;

export interface SessionOptions {
  /** Providers to try in order; 'auto' = cuda → webgpu → cpu. */
  providers?: Provider[] | 'auto';
  /** intraOpNumThreads (default: ORT's choice). */
  threads?: number;
  /**
   * Graph optimisation level. Default 'disabled': every level above folds constant subgraphs, which would
   * materialise a second copy of a frozen weight behind any Transpose/Cast on it.
   */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let the CPU provider prepack constant MatMul weights (faster kernels, but a second, repacked copy of
   * each weight). Default false; inference sessions of small models turn it on.
   */
  prepack?: boolean;
  /**
   * Use ORT's CPU memory arena (faster allocation, but it keeps transient peaks reserved). Default false for
   * training graphs; inference sessions turn it on.
   */
  memArena?: boolean;
  /** Write the graph ORT actually runs here (debugging). */
  optimizedModelFilePath?: string;
}

export interface SessionInfo {
  provider: Provider;
  /** Providers tried before the chosen one and why each was skipped. */
  skipped: { provider: Provider; reason: string }[];
  inputs: IOInfo[];
  outputs: IOInfo[];
}

/** A created session: feed by name, fetch by name, reuse across steps, release when done. */
export interface EngineSession extends SessionInfo {
  run(feeds: Feeds, fetch?: string[]): Promise<Fetches>;
  release(): Promise<void>;
}

export function hostTensor(dtype: DType, dims: number[], data: TypedArray): HostTensor {
  return { dtype, dims, data };
}

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  uint32: 'uint32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

function bindingDir(): string {
  const req = createRequire(import.meta.url);
  const pkg = path.dirname(req.resolve('onnxruntime-node/package.json'));
  const napi = fs.readdirSync(path.join(pkg, 'bin')).find((d) => d.startsWith('napi-'));
  return path.join(pkg, 'bin', napi ?? 'napi-v6', process.platform, process.arch);
}

/** Why a provider cannot be used here, or null when it may be tried. */
export function providerBlocker(p: Provider, model?: Pick<OnnxModel, 'inputs' | 'outputs'>): string | null {
  if (p === 'cpu') return null;
  if (p === 'cuda') {
    const dir = bindingDir();
    if (!fs.existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so'))) {
      return `CUDA provider libraries are not installed in ${dir} (run npm run cuda:install; needs CUDA 12 + cuDNN 9)`;
    }
    return null;
  }
  const vulkan = [
    '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
    '/usr/lib64/libvulkan.so.1',
    '/usr/lib/libvulkan.so.1',
  ];
  if (process.platform === 'linux' && !vulkan.some((f) => fs.existsSync(f)))
    return 'libvulkan.so.1 not found (WebGPU needs Vulkan)';
  // NVIDIA's Vulkan driver talks to /dev/nvidia* (compute containers often have no /dev/dri).
  if (process.platform === 'linux' && !fs.existsSync('/dev/dri') && !fs.existsSync('/dev/nvidia0'))
    return 'no GPU device under /dev/dri or /dev/nvidia0 (WebGPU needs a Vulkan GPU)';
  const io = [...(model?.inputs ?? []), ...(model?.outputs ?? [])];
  if (io.some((t) => t.dtype === 'float64'))
    return 'WebGPU kernels are fp32/fp16 only and this graph uses float64';
  return null;
}

function ortOptions(
  model: OnnxModel,
  p: Provider,
  opts: SessionOptions,
): ort.InferenceSession.SessionOptions {
  const session: Record<string, string> = opts.prepack ? {} : { disable_prepacking: '1' };
  if (model.externalDir) session.model_external_initializers_file_folder_path = model.externalDir;
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [p === 'cuda' ? { name: 'cuda', deviceId: 0 } : p],
    graphOptimizationLevel: opts.optimization ?? 'disabled',
    enableCpuMemArena: opts.memArena ?? false,
    extra: { session },
  };
  if (opts.threads) o.intraOpNumThreads = opts.threads;
  if (opts.optimizedModelFilePath) o.optimizedModelFilePath = opts.optimizedModelFilePath;
  // Bench hook (bench/train-shape.ts): ORT's per-node JSON profile, written when the session is released.
  const profile = process.env.EMBEDSMITH_ORT_PROFILE;
  if (profile) Object.assign(o, { enableProfiling: true, profileFilePrefix: profile });
  return o;
}

/** Create an ORT session trying providers in order; returns the session plus what was skipped and why. */
export async function createOrtSession(
  model: OnnxModel,
  opts: SessionOptions = {},
): Promise<{
  session: ort.InferenceSession;
  provider: Provider;
  skipped: { provider: Provider; reason: string }[];
}> {
  const order: Provider[] =
    opts.providers === undefined || opts.providers === 'auto' ? ['cuda', 'webgpu', 'cpu'] : opts.providers;
  const skipped: { provider: Provider; reason: string }[] = [];
  for (const p of order) {
    const blocked = providerBlocker(p, model);
    if (blocked) {
      skipped.push({ provider: p, reason: blocked });
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(model.bytes, ortOptions(model, p, opts));
      return { session, provider: p, skipped };
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      if (p === 'cpu' || order[order.length - 1] === p)
        throw new UserError(`session creation failed on ${p}: ${msg}`);
      skipped.push({ provider: p, reason: msg });
    }
  }
  throw new UserError(
    `no execution provider available: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`,
  );
}

/** Check feeds against the model's inputs before ORT sees them. */
export function checkFeeds(model: Pick<OnnxModel, 'inputs'>, feeds: Feeds): void {
  for (const i of model.inputs) {
    const f = feeds[i.name];
    if (!f)
      throw new UserError(`missing input '${i.name}' (${i.dtype} [${i.shape.join(',')}]); feed it by name`);
    if (f.dtype !== i.dtype)
      throw new UserError(`input '${i.name}': fed ${f.dtype}, graph expects ${i.dtype}`);
    if (
      f.dims.length !== i.shape.length ||
      i.shape.some((d, k) => typeof d === 'number' && d !== f.dims[k])
    ) {
      throw new UserError(
        `input '${i.name}': fed [${f.dims.join(',')}], graph expects [${i.shape.join(',')}]`,
      );
    }
  }
  const known = new Set(model.inputs.map((i) => i.name));
  for (const k of Object.keys(feeds))
    if (!known.has(k)) throw new UserError(`unknown input '${k}' (graph inputs: ${[...known].join(', ')})`);
}

export function toOrtFeeds(feeds: Feeds): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const type = ORT_TYPE[t.dtype];
    if (!type)
      throw new UserError(
        `input '${k}': ${t.dtype} cannot cross the JS boundary (feed float16/float32 and Cast in the graph)`,
      );
    const data =
      t.dtype === 'bool' && !(t.data instanceof Uint8Array) ? Uint8Array.from(t.data as Int32Array) : t.data;
    out[k] = new ort.Tensor(type, data as never, t.dims);
  }
  return out;
}

export function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = (t.type === 'float16' ? 'float16' : t.type) as DType;
  return { dtype, dims: [...t.dims], data: t.data as TypedArray };
}

/** Runs in the calling thread: blocks it during run(). For tests and tiny graphs. */
export class LocalSession implements EngineSession {
  private constructor(
    private session: ort.InferenceSession,
    readonly provider: Provider,
    readonly skipped: { provider: Provider; reason: string }[],
    readonly inputs: IOInfo[],
    readonly outputs: IOInfo[],
  ) {}

  static async create(model: OnnxModel, opts: SessionOptions = {}): Promise<LocalSession> {
    const { session, provider, skipped } = await createOrtSession(model, opts);
    return new LocalSession(session, provider, skipped, model.inputs, model.outputs);
  }

  async run(feeds: Feeds, fetch?: string[]): Promise<Fetches> {
    checkFeeds(this, feeds);
    const res = await this.session.run(toOrtFeeds(feeds), fetch ?? this.outputs.map((o) => o.name));
    const out: Fetches = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
