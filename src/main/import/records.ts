import type { NewExample } from '../../shared/domain';

/** One unit of input: a JSONL line (or a qrels line for BEIR) with its examples or the reason it is invalid. */
export interface ImportRecord {
  /** `file:line` */
  where: string;
  raw: string;
  /** The line's bytes when they are not valid UTF-8 (`raw` is then lossy). */
  rawBytes?: Buffer;
  examples?: NewExample[];
  error?: string;
}
