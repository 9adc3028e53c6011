// The memory plan (src/main/training/memory-plan.ts) of a real-shape checkpoint at several budgets, and how
// long building its training graphs takes: `npm run bench -- train --shape e5-mistral-7b --plan`. Uses the
// sparse all-zero checkpoint (bench/real-shape.ts --sparse): the plan and the graphs need only headers.
import { trainingMemoryParts } from '../src/main/models/trainable';
import { formatPlan, type MemoryPlan, planMemory } from '../src/main/training/memory-plan';

const GB = 1e9;

export interface PlanCase {
  label: string;
  budgetGb: number;
  /** float32 on the CPU; float16 stands for bf16 on a GPU (same bytes; the CPU here has no bf16 kernels). */
  dtype: 'float32' | 'float16';
  batch: number;
  chunk: number;
  maxLength: number;
}

export function planShape(modelDir: string, cases: PlanCase[]) {
  const parts = new Map<string, ReturnType<typeof trainingMemoryParts>>();
  const build: Record<string, number> = {};
  const out: { label: string; plan: MemoryPlan; lines: string[] }[] = [];
  for (const c of cases) {
    let p = parts.get(c.dtype);
    if (!p) {
      const t0 = performance.now();
      p = trainingMemoryParts({
        modelDir,
        rank: 16,
        alpha: 32,
        dropout: 0.1,
        targetModules: ['all-linear'],
        maxLength: c.maxLength,
        device: 'cpu',
        dtype: c.dtype,
      });
      // Both training graphs (without / with recompute) are built on first use.
      p.activationBytes(1, 8, false);
      p.activationBytes(1, 8, true);
      build[c.dtype] = (performance.now() - t0) / 1000;
      parts.set(c.dtype, p);
    }
    const q = p;
    const plan = planMemory({
      provider: c.dtype === 'float32' ? 'cpu' : 'gpu (bf16, sized as fp16)',
      dtype: c.dtype === 'float32' ? 'float32' : 'bfloat16',
      weightsBytes: q.weightsBytes,
      weightsNote: q.weightsNote,
      loraParams: q.loraParams,
      textsPerStep: 3 * c.batch,
      dim: q.dim,
      queries: c.batch,
      chunkSize: c.chunk,
      maxLength: c.maxLength,
      activationBytes: (chunk, rc) => q.activationBytes(chunk, c.maxLength, rc),
      recompute: 'auto',
      budgetBytes: c.budgetGb * GB,
      budgetSource: c.label,
    });
    out.push({ label: c.label, plan, lines: formatPlan(plan) });
  }
  return { graph_build_s: build, plans: out };
}
