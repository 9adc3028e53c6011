// The merged-model and ONNX exports as a worker-thread job (src/main/jobs/runner.ts): merging reads, adds
// and re-encodes every adapted weight synchronously, which on a real model takes minutes; in the serving
// process's main thread that would stall every window's requests for as long.
import fs from 'node:fs';
import path from 'node:path';
import { ProgressTracker } from '../jobs/progress';
import type { JobContext } from '../jobs/runner';

export interface ExportJobInput {
  kind: 'merged' | 'onnx';
  /** The run's folder (training_runs.out_dir) and the workspace's runs folder it may be relative to. */
  runDir: string;
  runsDir: string;
  out: string;
}

export interface ExportJobResult {
  out: string;
  files: string[];
}

export async function handler(input: unknown, ctx: JobContext): Promise<ExportJobResult> {
  const i = input as ExportJobInput;
  // Stages, not bytes: the merge itself reports nothing finer.
  const t = new ProgressTracker(2, 'stages', ctx.progress, 0);
  t.update(0, 'loading the base model and the adapter');
  // Loaded here, in the worker: the model stack is what the main thread should not pay for.
  const X = await import('../training/export');
  const r = X.resolveRun(i.runDir, i.runsDir);
  t.tick(1, i.kind === 'merged' ? 'merging the adapter into the weights' : 'writing the ONNX folder');
  fs.mkdirSync(path.dirname(i.out), { recursive: true });
  const res = i.kind === 'merged' ? X.exportMerged(r, i.out) : X.exportRunOnnx(r, i.out);
  t.tick(1, 'written');
  return { out: res.out, files: res.files };
}
