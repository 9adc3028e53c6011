// The Train form, generated from the one training schema (src/shared/training.ts): a control per field,
// grouped as the schema groups them, with its label, help and default. Adding a field there adds it here.
import { useEffect, useState } from 'react';
import {
  TRAIN_FIELDS,
  TRAIN_GROUPS,
  TRAIN_KEYS,
  type TrainGroup,
  type TrainKey,
  type TrainStartInput,
  trainDefault,
  trainInputFromText,
  trainStartInput,
  trainValueKind,
  trainValueText,
} from '../../../shared/training';

/** What the form holds: each field as text (empty means the default), the datasets as a list. */
export type TrainFormValues = Record<Exclude<TrainKey, 'datasets'>, string> & { datasets: string[] };
type TextKey = Exclude<TrainKey, 'datasets'>;
const TEXT_KEYS = TRAIN_KEYS.filter((k): k is TextKey => k !== 'datasets');

/** The schema's defaults as form text. */
export function defaultTrainValues(datasets: string[]): TrainFormValues {
  const v = {} as Record<TextKey, string>;
  for (const k of TEXT_KEYS) v[k] = trainValueText(trainDefault(k));
  return { ...v, datasets };
}

/** The form's values → the contract's trainStart input (the same conversion the CLI's flags go through). */
export function trainFormInput(v: TrainFormValues): TrainStartInput {
  const text: Partial<Record<TrainKey, string | string[]>> = {};
  for (const k of TEXT_KEYS) if (k !== 'out') text[k] = v[k];
  const input = trainInputFromText(text) as Record<string, unknown>;
  return { ...input, datasets: v.datasets, model: v.model.trim() } as TrainStartInput;
}

/** Field → message for every issue the shared schema finds (checked before anything is sent). */
export function trainFormIssues(v: TrainFormValues): Partial<Record<TrainKey, string>> {
  const r = trainStartInput.safeParse(trainFormInput(v));
  const out: Partial<Record<TrainKey, string>> = {};
  if (r.success) return out;
  for (const i of r.error.issues) {
    const k = String(i.path[0] ?? '') as TrainKey;
    if ((TRAIN_KEYS as string[]).includes(k) && !out[k]) out[k] = i.message;
  }
  return out;
}

const STORE_PREFIX = 'embedsmith.train.';

/** The form's values, remembered per dataset (renderer storage holds settings only, never keys). */
export function useTrainValues(dataset: string | null) {
  const load = (): TrainFormValues => {
    const base = defaultTrainValues(dataset ? [dataset] : []);
    const handed = sessionStorage.getItem('embedsmith.train.model');
    if (handed) {
      sessionStorage.removeItem('embedsmith.train.model');
      base.model = handed;
    }
    if (!dataset) return base;
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_PREFIX + dataset) ?? 'null') as Partial<
        Record<string, unknown>
      > | null;
      if (!saved) return base;
      for (const k of TEXT_KEYS) if (typeof saved[k] === 'string') base[k] = saved[k] as string;
      if (Array.isArray(saved.datasets) && saved.datasets.every((d) => typeof d === 'string'))
        base.datasets = saved.datasets.length ? (saved.datasets as string[]) : base.datasets;
    } catch {
      // A corrupt entry falls back to the defaults.
    }
    return base;
  };
  const [values, setValues] = useState<TrainFormValues>(load);
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload only when the dataset changes
  useEffect(() => setValues(load()), [dataset]);
  const update = (next: TrainFormValues) => {
    setValues(next);
    if (dataset) localStorage.setItem(STORE_PREFIX + dataset, JSON.stringify(next));
  };
  const reset = () => update(defaultTrainValues(dataset ? [dataset] : []));
  return { values, update, reset };
}

/** One control for one schema field. */
export function TrainFieldControl(props: {
  k: TrainKey;
  value: string;
  onChange: (v: string) => void;
  error?: string;
}) {
  const { k } = props;
  const m = TRAIN_FIELDS[k].meta;
  const kind = trainValueKind(k);
  const id = `train-${k}`;
  const def = trainValueText(trainDefault(k));
  const common = {
    id,
    'aria-label': m.label,
    'aria-invalid': props.error ? true : undefined,
    'aria-describedby': props.error ? `${id}-error` : `${id}-help`,
    'data-field': k,
  };
  return (
    <label className={props.error ? 'tf invalid' : 'tf'} htmlFor={id} title={m.help}>
      <span className="tf-label">{m.label}</span>
      {kind.type === 'enum' ? (
        <select {...common} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
          {kind.options.map((o) => (
            <option key={o}>{o}</option>
          ))}
        </select>
      ) : (
        <input
          {...common}
          value={props.value}
          inputMode={kind.type === 'number' ? 'decimal' : undefined}
          placeholder={m.placeholder ?? (def ? `default ${def}` : undefined)}
          onChange={(e) => props.onChange(e.target.value)}
        />
      )}
      {props.error ? (
        <span className="tf-error" id={`${id}-error`} role="alert">
          {props.error}
        </span>
      ) : (
        <span className="tf-help" id={`${id}-help`}>
          {m.help}
        </span>
      )}
    </label>
  );
}

/** The schema's groups as fieldsets; `custom` renders the fields the screen draws itself (datasets, model). */
export function TrainFields(props: {
  values: TrainFormValues;
  onChange: (v: TrainFormValues) => void;
  errors: Partial<Record<TrainKey, string>>;
  custom: (k: TrainKey) => React.ReactNode;
}) {
  const groups = Object.keys(TRAIN_GROUPS) as TrainGroup[];
  return (
    <>
      {groups.map((g) => {
        const keys = TRAIN_KEYS.filter(
          (k) => TRAIN_FIELDS[k].meta.group === g && TRAIN_FIELDS[k].meta.form !== 'none',
        );
        const body = (
          <div className="tf-grid" key={`${g}-grid`}>
            {keys.map((k) =>
              TRAIN_FIELDS[k].meta.form === 'custom' ? (
                <div key={k} className="tf-custom">
                  {props.custom(k)}
                </div>
              ) : (
                <TrainFieldControl
                  key={k}
                  k={k}
                  value={k === 'datasets' ? '' : props.values[k]}
                  error={props.errors[k]}
                  onChange={(v) => props.onChange({ ...props.values, [k]: v })}
                />
              ),
            )}
          </div>
        );
        const hasError = keys.some((k) => props.errors[k]);
        return g === 'advanced' ? (
          <details key={g} className="tf-group" data-group={g} open={hasError || undefined}>
            <summary>{TRAIN_GROUPS[g]}</summary>
            {body}
          </details>
        ) : (
          <fieldset key={g} className="tf-group" data-group={g}>
            <legend>{TRAIN_GROUPS[g]}</legend>
            {body}
          </fieldset>
        );
      })}
    </>
  );
}

/** Sets the base model in a dataset's remembered Train form (the library's "Use in Train"). */
export function useTrainModelSetter() {
  return (dataset: string | null, model: string) => {
    if (!dataset) {
      sessionStorage.setItem('embedsmith.train.model', model);
      return;
    }
    const key = STORE_PREFIX + dataset;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(localStorage.getItem(key) ?? 'null') ?? defaultTrainValues([dataset]);
    } catch {
      v = defaultTrainValues([dataset]);
    }
    localStorage.setItem(key, JSON.stringify({ ...v, model }));
  };
}
