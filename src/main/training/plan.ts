// The memory plan of a configured run: the model's measured parts (models/trainable.ts) and the device's
// memory, combined by the pure planMemory (memory-plan.ts). Used by prepare (refusal before loading),
// `train --plan`, the start-of-run log and the Train screen.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { trainingMemoryParts } from '../models/trainable';
import { encoderOptions, type TrainConfig } from './config';
import { type MemoryPlan, planMemory } from './memory-plan';

/** The memory the run may use: --memory-gb, else what the provider reports (RAM on CPU, VRAM on CUDA). */
export function memoryBudget(
  provider: string,
  memoryGb: number | null,
): { bytes: number | null; source: string } {
  if (memoryGb !== null) return { bytes: memoryGb * 1024 ** 3, source: '--memory-gb' };
  if (provider === 'cpu') return { bytes: os.totalmem(), source: 'RAM (os.totalmem)' };
  if (provider === 'cuda') {
    try {
      const out = execFileSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], {
        encoding: 'utf8',
        timeout: 5000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const mib = Number(out.split('\n')[0].trim());
      if (Number.isFinite(mib) && mib > 0) return { bytes: mib * 1024 ** 2, source: 'VRAM (nvidia-smi)' };
    } catch {
      // no nvidia-smi: unknown below
    }
    return { bytes: null, source: 'nvidia-smi did not report the VRAM' };
  }
  return { bytes: null, source: `${provider} reports no memory size` };
}

/** The plan of a training config (model encoder only; the reference encoder has none). */
export function trainingPlan(c: TrainConfig): MemoryPlan {
  const parts = trainingMemoryParts(encoderOptions(c));
  const budget = memoryBudget(parts.provider, c.memoryGb);
  return planMemory({
    provider: parts.provider,
    dtype: parts.dtype,
    weightsBytes: parts.weightsBytes,
    weightsNote: parts.weightsNote,
    loraParams: parts.loraParams,
    // Worst case: every row brings one hard negative.
    textsPerStep: 3 * c.batchSize,
    queries: c.batchSize,
    dim: parts.dim,
    chunkSize: c.chunkSize,
    maxLength: c.maxLength,
    activationBytes: (chunk, rc) => parts.activationBytes(chunk, c.maxLength, rc),
    recompute: c.recompute,
    budgetBytes: budget.bytes,
    budgetSource: budget.source,
  });
}
