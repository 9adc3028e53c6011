// Reads a run's train.log.jsonl (one StepEvent per line, written by the trainer) for the loss curve of
// runs this process did not watch: finished runs, runs of the CLI, runs before an app restart.
import fs from 'node:fs';
import path from 'node:path';

export interface LoggedStep {
  step: number;
  loss: number;
  lr?: number;
  gradNorm?: number;
}

const cache = new Map<string, { key: string; steps: LoggedStep[] }>();

/**
 * The logged steps of a run folder (empty when there is no log), at most `maxPoints` evenly spaced ones
 * (the last step always kept). Cached on the file's size and mtime, so listing runs re-reads only logs
 * that grew. A torn last line (a run killed mid-write) is skipped.
 */
export function readTrainLog(runDir: string, maxPoints = 2000): LoggedStep[] {
  const file = path.join(runDir, 'train.log.jsonl');
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return [];
  }
  const key = `${st.size}:${st.mtimeMs}:${maxPoints}`;
  const hit = cache.get(file);
  if (hit?.key === key) return hit.steps;
  const steps: LoggedStep[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof e.step !== 'number' || typeof e.loss !== 'number') continue;
    steps.push({
      step: e.step,
      loss: e.loss,
      lr: typeof e.lr === 'number' ? e.lr : undefined,
      gradNorm: typeof e.gradNorm === 'number' ? e.gradNorm : undefined,
    });
  }
  // A resumed run re-logs from its checkpoint: the newest line per step wins.
  const byStep = new Map(steps.map((s) => [s.step, s]));
  let out = [...byStep.values()].sort((a, b) => a.step - b.step);
  if (out.length > maxPoints) {
    const every = out.length / maxPoints;
    const last = out[out.length - 1];
    out = Array.from({ length: maxPoints - 1 }, (_, i) => out[Math.floor(i * every)]).concat(last);
  }
  cache.set(file, { key, steps: out });
  return out;
}
