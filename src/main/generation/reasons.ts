/**
 * Reason codes of rejected answers and failed requests: a fixed vocabulary, documented in README
 * ("Generating data"). Every rejected row carries exactly one of these.
 */
export const REJECT_REASONS = {
  malformed_json: 'no JSON object (or, for brainstorms, no task list) could be read from the answer',
  refusal: 'the model declined the request',
  missing_keys: 'a key required by the kind is absent',
  extra_keys: 'a key outside the kind’s key set (sts and bitext allow no others)',
  wrong_type: 'a value is not a string',
  unfilled_placeholder: 'a template placeholder such as {language} or [insert …] was left in the text',
  too_short: 'a field is empty or has fewer words than the sampled length asks for',
  query_in_positive: 'the query is copied into a document, or both texts are the same',
  label_in_input: 'the label or misleading label appears inside input_text',
  label_equals_misleading: 'label and misleading_label are the same',
  s2_equals_s3: 'S2 and S3 are the same text',
  wrong_language:
    'the text is not in the requested language (bitext: S1 not in src_lang or S2/S3 not in tgt_lang)',
  duplicate: 'an exact (normalised) duplicate of an example already in the dataset',
  near_duplicate: 'nearly the same text as an example already in the dataset (MinHash Jaccard ≥ 0.8)',
  empty_task_list: 'a brainstorm answer that parsed but held no usable task',
} as const;
export type RejectReason = keyof typeof REJECT_REASONS;

/** Error classes of requests that failed after all retries. */
export const ERROR_CLASSES = {
  rate_limit: 'HTTP 429',
  server: 'HTTP 5xx',
  timeout: 'no answer within the per-request timeout',
  network: 'connection refused, reset or DNS failure',
  bad_request: 'HTTP 400/404/422: the server refused the request as written',
  auth: 'HTTP 401/403: check the API key variable',
  empty: 'the answer had no choices or no message content',
  other: 'any other error',
} as const;
export type ErrorClass = keyof typeof ERROR_CLASSES;
