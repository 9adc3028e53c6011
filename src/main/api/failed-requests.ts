// What a failed or rejected provider request looks like through the API (generation.failures and the
// Generate screen's preview): its columns, its row type and its redaction, owned here once so that every
// error the API returns passes the configured secrets' redaction.
import type { FailedRequest } from '../../shared/contract';
import { redactSecrets } from './secrets';

const COLUMNS = [
  'id',
  'model',
  'kind',
  'status',
  'error',
  'error_class',
  'reject_reason',
  'raw_answer',
  'created_at',
];

/** The SELECT list of a failed request, optionally qualified by a table alias. */
export const failedRequestColumns = (alias?: string) =>
  COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', ');

export interface FailedRequestRow {
  id: number;
  model: string;
  kind: string | null;
  status: string;
  error: string | null;
  error_class: string | null;
  reject_reason: string | null;
  raw_answer: string | null;
  created_at: string;
}

/** The API's shape of a stored row, with every configured secret redacted from its error. */
export const toFailedRequest = (r: FailedRequestRow, secrets: string[]): FailedRequest => ({
  id: r.id,
  model: r.model,
  kind: r.kind,
  status: r.status,
  error: r.error === null ? null : redactSecrets(r.error, secrets),
  errorClass: r.error_class,
  rejectReason: r.reject_reason,
  rawAnswer: r.raw_answer,
  createdAt: r.created_at,
});
