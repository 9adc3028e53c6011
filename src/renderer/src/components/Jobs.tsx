import { useEffect, useState } from 'react';
import type { JobInfo } from '../../../shared/contract';
import { useApi, useQuery } from '../api/context';
import { errorText } from '../api/transport';
import { Card } from './common';
import { JobCard } from './JobCard';

/**
 * Background jobs of the given types with live progress (pushed over the event stream), and Cancel where the
 * job's work stops on cancel (`cancellable`); the cancelled state arrives as a pushed job event.
 */
export function JobsList({ types, highlight }: { types: string[]; highlight?: string }) {
  const { client, onEvent } = useApi();
  const [cancelErrors, setCancelErrors] = useState<Record<string, string>>({});
  const cancel = (id: string) =>
    client.jobs.cancel.mutate({ jobId: id }).then(
      () => setCancelErrors(({ [id]: _, ...rest }) => rest),
      (e) => setCancelErrors((m) => ({ ...m, [id]: errorText(e) })),
    );
  const initial = useQuery((c) => c.jobs.list.query(), []);
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  useEffect(() => {
    if (initial.data) setJobs(initial.data);
  }, [initial.data]);
  useEffect(
    () =>
      onEvent((e) => {
        if (e.topic !== 'job') return;
        setJobs((js) => {
          const i = js.findIndex((j) => j.id === e.job.id);
          return i < 0 ? [e.job, ...js] : js.map((j) => (j.id === e.job.id ? e.job : j));
        });
      }),
    [onEvent],
  );
  const mine = jobs.filter((j) => types.includes(j.type));
  if (!mine.length) return null;
  return (
    <Card title="Recent">
      <div className="jobs" data-testid="jobs">
        {mine.map((j) => (
          <JobCard
            key={j.id}
            job={j}
            testId="job"
            highlight={j.id === highlight}
            actions={
              (j.state === 'running' || j.state === 'queued') &&
              j.cancellable && (
                <button type="button" onClick={() => void cancel(j.id)}>
                  Cancel
                </button>
              )
            }
            notes={
              cancelErrors[j.id] && (
                <div className="error" data-testid="cancel-error">
                  {cancelErrors[j.id]}
                </div>
              )
            }
          >
            {j.result !== undefined && <JobResult r={j.result as Record<string, unknown>} />}
          </JobCard>
        ))}
      </div>
    </Card>
  );
}

function JobResult({ r }: { r: Record<string, unknown> }) {
  const keys = [
    'inserted',
    'duplicates',
    'invalid',
    'rows',
    'records',
    'out',
    'rejectedFile',
    'examples',
    'likelyFalseNegatives',
    'negatives',
    'queries',
    'seconds',
  ];
  const groups = Array.isArray(r.groups) ? (r.groups as { group: string; skipped: string | null }[]) : [];
  return (
    <div className="attrs">
      {keys
        .filter((k) => r[k] !== undefined && r[k] !== null)
        .map((k) => (
          <span key={k}>
            <b>{k}</b> {resultValue(r[k])}
          </span>
        ))}
      {groups.length > 0 && (
        <span>
          <b>pools</b> {groups.length} ({groups.filter((g) => !g.skipped).length} mined)
        </span>
      )}
      {groups
        .filter((g) => g.skipped)
        .map((g) => (
          <span key={g.group} className="muted">
            {g.group}: {g.skipped}
          </span>
        ))}
    </div>
  );
}

/** One readable value: numbers rounded, timing objects as their total (mining reports seconds per stage). */
export function resultValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.total === 'number') return `${o.total.toFixed(2)} s`;
    return Object.entries(o)
      .map(([k, x]) => `${k} ${typeof x === 'number' ? resultValue(x) : String(x)}`)
      .join(', ');
  }
  return String(v);
}
