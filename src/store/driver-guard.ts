/**
 * A guard for one known crash of the postgres driver (postgres.js 3.4.9): when a connection closes
 * under load (its server killed), a write it had deferred with setImmediate can run after the socket
 * is gone and throw `TypeError: Cannot read properties of null (reading 'write')` from
 * `nextWrite`, outside any promise, which would end the process
 * (https://github.com/porsager/postgres/issues/1154, /issues/1208). The queries on that connection
 * were already rejected with CONNECTION_CLOSED, so nothing is lost by carrying on. Every other
 * uncaught exception still ends the process, as Node's default does.
 */
import type { Logger } from 'pino';
import { isDatabaseDown } from './database-errors.js';

export function isDeferredWriteCrash(err: unknown): boolean {
  return err instanceof TypeError
    && /reading 'write'/.test(err.message)
    && /at (?:Immediate\.)?nextWrite \(.*postgres[\\/]src[\\/]connection\.js/.test(err.stack ?? '');
}

/** Installs the guard; for long-running commands only (it replaces Node's default handling). */
export function guardDeferredWriteCrash(log: Logger): void {
  process.on('uncaughtException', (err) => {
    if (isDeferredWriteCrash(err)) {
      log.warn('the postgres driver wrote to a connection that had just closed; its queries were already failed');
      return;
    }
    // A statement's connection failure that reached no handler (seen once in CI with PostgreSQL and
    // NATS both stopped; its origin is not known yet). Whatever issued it was not waiting for it, so
    // nothing was acknowledged on it: ending the process would only turn an outage into a restart.
    if (isDatabaseDown(err)) {
      log.warn({ code: (err as { code?: string }).code }, 'a database connection failure reached no handler; carrying on');
      return;
    }
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
