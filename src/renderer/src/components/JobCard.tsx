import type { ReactNode } from 'react';
import type { JobInfo } from '../../../shared/contract';
import { guiError } from '../gui-errors';
import { ProgressBar } from './common';

/**
 * One background job as every screen shows it: label and state badge (with the screen's buttons beside
 * them), the progress bar while it runs, its error in the app's words (gui-errors), and what it made
 * (children) once done.
 */
export function JobCard({
  job,
  testId,
  highlight = false,
  actions,
  quietError = false,
  notes,
  children,
}: {
  job: JobInfo;
  testId?: string;
  highlight?: boolean;
  actions?: ReactNode;
  /** The error as a muted note (a paused pull is not a failure to alarm about). */
  quietError?: boolean;
  /** Shown in every state, under the error (e.g. a refused Cancel). */
  notes?: ReactNode;
  children?: ReactNode;
}) {
  return (
    <div className={`job ${job.state}${highlight ? ' hl' : ''}`} data-testid={testId} data-state={job.state}>
      <div className="row-actions">
        <strong>{job.label}</strong> <span className={`badge ${job.state}`}>{job.state}</span>
        {actions}
      </div>
      {job.state === 'running' && job.progress && <ProgressBar p={job.progress} />}
      {job.error && <div className={quietError ? 'muted small' : 'error'}>{guiError(job.error).text}</div>}
      {notes}
      {job.state === 'done' && children}
    </div>
  );
}
