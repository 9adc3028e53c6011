// An empty workspace: load the demo (what `embedsmith demo` starts from: its model and dataset), or follow
// the three steps with your own data.
import { useState } from 'react';
import type { JobInfo } from '../../../shared/contract';
import { useApi } from '../api/context';
import { errorText } from '../api/transport';
import { Card, ErrorBox, ProgressBar } from '../components/common';
import { guiError } from '../gui-errors';
import { useNav } from '../nav';
import './forms.css';

/** Shown while the workspace is empty, and until a demo load started here has finished. */
export function FirstRun({ empty }: { empty: boolean }) {
  const nav = useNav();
  const { client, onEvent } = useApi();
  const [job, setJob] = useState<JobInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    setError(null);
    try {
      const j = await client.demo.load.mutate();
      setJob(j);
      const off = onEvent((e) => {
        if (e.topic !== 'job' || e.job.id !== j.id) return;
        setJob(e.job);
        if (e.job.state === 'done') {
          off();
          const r = e.job.result as { dataset?: string } | undefined;
          if (r?.dataset) nav.setDataset(r.dataset);
        } else if (e.job.state === 'failed') off();
      });
    } catch (e) {
      setError(guiError(errorText(e)).text);
    }
  };
  if (!empty && !job) return null;
  return (
    <Card title="Welcome to Embedsmith">
      <div data-testid="first-run">
        <p>
          Fine-tune an embedding model on synthetic data in three steps. Start from the demo (a small model
          and a ready dataset, no download), or with your own data.
        </p>
        <div className="row-actions">
          <button type="button" className="primary" onClick={load} disabled={job?.state === 'running'}>
            Load the demo
          </button>
          {job?.state === 'running' && job.progress && <ProgressBar p={job.progress} />}
          {job?.state === 'done' && <span className="badge done">demo loaded</span>}
        </div>
        <ErrorBox error={error ?? (job?.error ? guiError(job.error).text : null)} />
        <div className="steps3">
          <div>
            <b>1. Get data</b>
            Create a dataset below, then{' '}
            <button type="button" onClick={() => nav.go('generate')}>
              Generate
            </button>{' '}
            examples with an LLM or import a JSONL file; review them in{' '}
            <button type="button" onClick={() => nav.go('curate')}>
              Curate
            </button>
            .
          </div>
          <div>
            <b>2. Train</b>
            Pick a base model (the{' '}
            <button type="button" onClick={() => nav.go('models')}>
              Models
            </button>{' '}
            library) and{' '}
            <button type="button" onClick={() => nav.go('train')}>
              Train
            </button>{' '}
            a LoRA adapter on the train split.
          </div>
          <div>
            <b>3. Evaluate</b>
            Compare the base model with your adapter on the held-out split in{' '}
            <button type="button" onClick={() => nav.go('evaluate')}>
              Evaluate
            </button>
            , then{' '}
            <button type="button" onClick={() => nav.go('export')}>
              Export
            </button>{' '}
            it.
          </div>
        </div>
      </div>
    </Card>
  );
}
