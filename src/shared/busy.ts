// SQLITE_BUSY that outlasts the busy timeout, as every caller shows it (CLI, API, jobs): one line, retryable.
// Here, not in the store, because the router (no node code) maps it too.

/** SQLITE_BUSY and its extended codes: another connection held the write lock past the busy timeout. */
export const isSqliteBusy = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
};

export const BUSY_MESSAGE =
  'the workspace database is busy: another process (an import, a generation or training run) held it past the busy timeout; nothing was changed, try again';
