/**
 * What a failed statement or transaction says about its cause: the database (down, overloaded,
 * timed out) or the data it was given. SQLSTATE classes: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */

/** Connection-level failures of PostgreSQL (driver codes and SQLSTATEs 57P0x, 53300, 08xxx). */
const databaseDown = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED',
  'CONNECTION_DESTROYED', '57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004',
]);

const codeOf = (err: unknown): string => String((err as { code?: unknown } | null)?.code ?? '');

/** PostgreSQL cannot be reached, or refuses connections: nothing of the request was stored. */
export function isDatabaseDown(err: unknown): boolean {
  return databaseDown.has(codeOf(err)) || databaseDown.has(String((err as { errno?: unknown } | null)?.errno ?? ''));
}

/**
 * SQLSTATE classes that come from the server's state, whatever the data: 40 transaction rollback
 * (serialization failure, deadlock), 53 insufficient resources, 55 object not in prerequisite
 * state (lock not available), 57 operator intervention (statement timeout, shutdown), 58 system
 * error, XX internal error.
 */
const serverStateClasses = new Set(['40', '53', '55', '57', '58', 'XX']);

/** The database itself failed (down, overloaded, timed out, deadlocked), rather than refusing some data it was given. */
export function isDatabaseFailure(err: unknown): boolean {
  const code = codeOf(err);
  return isDatabaseDown(err) || (/^[0-9A-Z]{5}$/.test(code) && serverStateClasses.has(code.slice(0, 2)));
}

/** A deadlock (40P01) or a serialization failure (40001): the statement was rolled back whole. */
export function isRetryableConflict(err: unknown): boolean {
  const code = codeOf(err);
  return code === '40P01' || code === '40001';
}

/**
 * Runs one statement that stands alone (not inside the caller's transaction) again when
 * PostgreSQL rolled it back for a deadlock, up to `attempts` times: it changed nothing, and the
 * statements this is for are idempotent, so running them again is safe. Inside a transaction the
 * whole transaction is aborted, so a caller there gets the error at once.
 */
export async function retryingConflicts<T>(inTransaction: boolean, run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (inTransaction || i >= attempts || !isRetryableConflict(err)) throw err;
    }
  }
}
