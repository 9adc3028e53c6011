// The environment of a PyTorch peer process (Debian's python3-torch), one owner for every bench that runs one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const PY = '/usr/bin/python3';
/** Debian's torch links the system libblas.so.3, the reference BLAS unless another is selected; OpenBLAS
 * (apt-get install libopenblas0-pthread), when installed, is put first on the peer's library path. */
export const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
export const hasOpenblas = () => fs.existsSync(path.join(OPENBLAS, 'libblas.so.3'));

/**
 * Threads pinned, OpenBLAS first (unless `openblas` is false or it is not installed), and OpenBLAS's kernel
 * set named where it does not recognise the CPU. `openblasCore`: what the peer ran with, for its JSON line.
 */
export function torchEnv(threads: number, openblas = true): { env: NodeJS.ProcessEnv; openblasCore: string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
  };
  if (!openblas || !hasOpenblas()) return { env, openblasCore: 'none (system BLAS)' };
  env.LD_LIBRARY_PATH = [OPENBLAS, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const core = process.env.OPENBLAS_CORETYPE ?? fallbackCore(env);
  if (core) env.OPENBLAS_CORETYPE = core;
  return { env, openblasCore: core ?? 'OpenBLAS default' };
}

let probed: string | null | undefined;
/**
 * The OpenBLAS kernel set for this CPU when OpenBLAS 0.3.21 does not recognise it, else null (probed once per
 * process). On a VM whose CPU reports a generic model (2026-12-03 'Intel Xeon Processor' with AVX-512) it falls
 * back to 'Prescott' (SSE3): 33 GFLOP/s on a 512×1024×3072 matmul at 2 threads vs 184 with SkylakeX, which
 * made the train-shape peer's forward+backward 2.3× slower than the hardware allows.
 */
function fallbackCore(env: NodeJS.ProcessEnv): string | null {
  if (probed !== undefined) return probed;
  const r = spawnSync(PY, ['-c', 'import torch; torch.ones(2, 2) @ torch.ones(2, 2)'], {
    encoding: 'utf8',
    env: { ...env, OPENBLAS_VERBOSE: '2' },
  });
  probed = null;
  if (/Core: (\w+)/.exec(`${r.stdout}${r.stderr}`)?.[1] !== 'Prescott') return probed;
  const flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(' ') ?? [];
  const has = (f: string) => flags.includes(f);
  if (['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every(has)) probed = 'SkylakeX';
  else if (has('avx2') && has('fma')) probed = 'Haswell';
  return probed;
}
