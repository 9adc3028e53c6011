import type { NewExample } from '../../shared/domain';

/** One unit of input: a JSONL line (or a qrels line for BEIR) with its examples or the reason it is invalid. */
export interface ImportRecord {
  /** `file:line` */
  where: string;
  raw: string;
  examples?: NewExample[];
  error?: string;
}
