import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { downloadFile, listFiles, modelInfo } from '@huggingface/hub';
import { UserError } from '../errors';
import { ProgressTracker, type ProgressListener } from '../jobs/progress';
import { MODEL_MANIFEST } from './origin';

/** What `models pull` records next to the files. */
export interface PulledModel {
  id: string;
  revision: string;
  sha: string | null;
  files: { path: string; size: number }[];
  pulledAt: string;
  endpoint: string;
}

const MANIFEST = MODEL_MANIFEST;

/** `owner/name` → folder name under the workspace's models/ directory. */
export const modelDirName = (id: string) => id.replace(/\//g, '--');

/** Files an embedding folder needs; weights other than safetensors (.bin, .onnx, .gguf…) are skipped. */
function wanted(p: string): boolean {
  if (/\.(safetensors|json|txt|model)$/.test(p) || p === 'model.safetensors.index.json') {
    if (p.startsWith('onnx/') || p.startsWith('openvino/')) return false;
    return true;
  }
  return false;
}

export interface PullOptions {
  revision?: string;
  endpoint?: string;
  accessToken?: string;
  onProgress?: ProgressListener;
  fetch?: typeof fetch;
}

/**
 * Downloads a model repository's safetensors/config/tokenizer files into `modelsDir/<owner--name>`.
 * Resumable: a file is written to `<file>.part` and continued with a Range request; each file is
 * checked against the hub's size and hash (sha256 for LFS files, git blob sha1 otherwise).
 */
export async function pullModel(modelsDir: string, id: string, o: PullOptions = {}): Promise<PulledModel> {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(id))
    throw new UserError(`${id}: not a Hugging Face model id (owner/name)`);
  const endpoint = (o.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const revision = o.revision ?? 'main';
  const common = { hubUrl: endpoint, accessToken: o.accessToken ?? process.env.HF_TOKEN, fetch: o.fetch };
  let sha: string | null = null;
  try {
    const info = await modelInfo({ ...common, name: id, revision, additionalFields: ['sha'] });
    sha = (info as { sha?: string }).sha ?? null;
  } catch (e) {
    throw new UserError(`${id}@${revision}: not found on ${endpoint} (${(e as Error).message})`);
  }
  // Pin every file to the commit the revision named when we started.
  const rev = sha ?? revision;
  const entries: { path: string; size: number; sha256?: string; oid?: string }[] = [];
  for await (const f of listFiles({
    ...common,
    repo: { type: 'model', name: id },
    revision: rev,
    recursive: true,
  }))
    if (f.type === 'file' && wanted(f.path))
      entries.push({
        path: f.path,
        size: f.lfs?.size ?? f.size,
        sha256: f.lfs?.oid,
        oid: f.lfs ? undefined : f.oid,
      });
  if (!entries.some((e) => e.path === 'config.json'))
    throw new UserError(`${id}@${revision}: no config.json in the repository (not a transformers model)`);
  if (!entries.some((e) => e.path.endsWith('.safetensors')))
    throw new UserError(
      `${id}@${revision}: no .safetensors weights in the repository (only .bin checkpoints are not supported)`,
    );
  const dir = path.join(modelsDir, modelDirName(id));
  fs.mkdirSync(dir, { recursive: true });
  const total = entries.reduce((a, e) => a + e.size, 0);
  const tracker = new ProgressTracker(total, 'B', o.onProgress);
  let done = 0;
  for (const e of entries) {
    const dest = path.join(dir, e.path);
    if (!path.resolve(dest).startsWith(path.resolve(dir) + path.sep))
      throw new UserError(`${id}: refusing file path ${e.path}`);
    if (fs.existsSync(dest) && fs.statSync(dest).size === e.size && (await verify(dest, e))) {
      done += e.size;
      tracker.update(done, e.path);
      continue;
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const part = `${dest}.part`;
    let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
    if (have > e.size) {
      fs.rmSync(part);
      have = 0;
    }
    const blob = await downloadFile({
      ...common,
      repo: { type: 'model', name: id },
      path: e.path,
      revision: rev,
      xet: false,
    });
    if (!blob) throw new UserError(`${id}: ${e.path} vanished from ${endpoint}`);
    if (blob.size !== e.size)
      throw new UserError(`${id}: ${e.path} is ${blob.size} bytes, the listing says ${e.size}`);
    if (have < e.size) {
      const out = fs.createWriteStream(part, { flags: 'a' });
      const reader = blob.slice(have).stream().getReader();
      try {
        for (;;) {
          const { value, done: end } = await reader.read();
          if (end) break;
          if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
          have += value.byteLength;
          tracker.update(done + have, e.path);
        }
      } finally {
        await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
      }
    }
    if (fs.statSync(part).size !== e.size || !(await verify(part, e))) {
      fs.rmSync(part, { force: true });
      throw new UserError(`${id}: ${e.path} failed its size/hash check; run the pull again`);
    }
    fs.renameSync(part, dest);
    done += e.size;
    tracker.update(done, e.path);
  }
  const manifest: PulledModel = {
    id,
    revision,
    sha,
    files: entries.map((e) => ({ path: e.path, size: e.size })),
    pulledAt: new Date().toISOString(),
    endpoint,
  };
  fs.writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function verify(file: string, e: { size: number; sha256?: string; oid?: string }): Promise<boolean> {
  if (fs.statSync(file).size !== e.size) return false;
  if (!e.sha256 && !e.oid) return true;
  const h = crypto.createHash(e.sha256 ? 'sha256' : 'sha1');
  if (!e.sha256) h.update(`blob ${e.size}\0`);
  await new Promise<void>((res, rej) => {
    fs.createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => res())
      .on('error', rej);
  });
  return h.digest('hex') === (e.sha256 ?? e.oid);
}

export interface LocalModel {
  id: string;
  dir: string;
  revision: string | null;
  sha: string | null;
  sizeBytes: number;
  modelType: string | null;
}

export function listModels(modelsDir: string): LocalModel[] {
  if (!fs.existsSync(modelsDir)) return [];
  const out: LocalModel[] = [];
  for (const name of fs.readdirSync(modelsDir).sort()) {
    const dir = path.join(modelsDir, name);
    if (!fs.statSync(dir).isDirectory() || !fs.existsSync(path.join(dir, 'config.json'))) continue;
    let m: Partial<PulledModel> = {};
    try {
      m = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8'));
    } catch {}
    let modelType: string | null = null;
    try {
      modelType = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).model_type ?? null;
    } catch {}
    out.push({
      id: m.id ?? name.replace(/--/g, '/'),
      dir,
      revision: m.revision ?? null,
      sha: m.sha ?? null,
      sizeBytes: dirSize(dir),
      modelType,
    });
  }
  return out;
}

function dirSize(dir: string): number {
  let s = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }))
    s += e.isDirectory() ? dirSize(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size;
  return s;
}

export function removeModel(modelsDir: string, id: string): string {
  const dir = path.join(modelsDir, modelDirName(id));
  if (!fs.existsSync(dir)) throw new UserError(`${id}: not in ${modelsDir} (see \`embedsmith models list\`)`);
  fs.rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** A --model argument: a folder path, or the id of a pulled model. */
export function resolveModelDir(modelsDir: string, arg: string): string {
  if (fs.existsSync(arg) && fs.statSync(arg).isDirectory()) return path.resolve(arg);
  const pulled = path.join(modelsDir, modelDirName(arg));
  if (fs.existsSync(pulled)) return pulled;
  throw new UserError(
    `${arg}: no such model folder and not a pulled model (run \`embedsmith models pull ${arg}\`)`,
  );
}
