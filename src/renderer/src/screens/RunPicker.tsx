// Picking a training run's adapter instead of typing its path (Evaluate, Export).
import { useEffect } from 'react';
import type { TrainingRunInfo } from '../../../shared/contract';
import { useQuery } from '../api/context';

const HANDOFF = 'embedsmith.pickedRun';

/** Remembers a run for the next screen (the Train screen's Evaluate / Export buttons). */
export function handOffRun(runId: string) {
  sessionStorage.setItem(HANDOFF, runId);
}

/** Runs that have an adapter (finished, or with a checkpoint), newest first. */
export function useAdapterRuns() {
  return useQuery(
    (c) => c.training.list.query(),
    [],
    (e) => e.topic === 'training' && e.state !== undefined,
  );
}

export function RunAdapterPicker(props: {
  value: string | null;
  onPick: (run: TrainingRunInfo | null) => void;
  label?: string;
}) {
  const runs = useAdapterRuns();
  const withAdapter = (runs.data ?? []).filter((r) => r.adapterDir);
  // A run handed over by the Train screen is picked once it is listed.
  useEffect(() => {
    const id = sessionStorage.getItem(HANDOFF);
    const r = id ? withAdapter.find((x) => x.id === id) : undefined;
    if (r) {
      sessionStorage.removeItem(HANDOFF);
      props.onPick(r);
    }
  });
  return (
    <label>
      {props.label ?? "This run's adapter"}
      <select
        aria-label="training run"
        value={props.value ?? ''}
        onChange={(e) => props.onPick(withAdapter.find((r) => r.id === e.target.value) ?? null)}
      >
        <option value="">{withAdapter.length ? '(pick a run)' : '(no trained runs yet)'}</option>
        {withAdapter.map((r) => (
          <option key={r.id} value={r.id}>
            {r.id} · {r.datasets.join(', ')} · {r.state}
          </option>
        ))}
      </select>
    </label>
  );
}

const MODEL_HANDOFF = 'embedsmith.pickedModel';

/** Remembers a model folder for the Evaluate screen (the library's "Use in Evaluate"). */
export function handOffModel(path: string) {
  sessionStorage.setItem(MODEL_HANDOFF, path);
}

/** Calls `use` once with a model handed over by the library. */
export function useHandedModel(use: (path: string) => void) {
  // biome-ignore lint/correctness/useExhaustiveDependencies: once on mount
  useEffect(() => {
    const p = sessionStorage.getItem(MODEL_HANDOFF);
    if (p) {
      sessionStorage.removeItem(MODEL_HANDOFF);
      use(p);
    }
  }, []);
}
