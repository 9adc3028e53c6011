// Secrets out of error text. Pure and dependency-free, so every layer (generation's provider, the API) uses
// the same rule.

const REDACTED = '[redacted]';

/**
 * `text` with every occurrence of each secret replaced by "[redacted]": provider errors may echo the key
 * (a 401 "Incorrect API key provided: …"), and errors are stored and shown. Values under 8 characters are
 * skipped (too short to be a key, and they would mangle ordinary words).
 */
export function redactSecrets(text: string, secrets: Iterable<string | null | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8 && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}
